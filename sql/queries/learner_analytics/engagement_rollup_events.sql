-- Engagement's events from the daily activity rollup (used with engagement_rollup_sessions.sql,
-- under the same conditions), chunks :i to :j of :n (column chunk: one scan serves several
-- chunks, store.run_snapshot): one event-shaped row per learner, content type and bin of :bin
-- days counted back from :t (the day bins (day, day + 1] inside the 8 trend weeks (:since, :t];
-- :bin = gcd(7, window_days), so no week or window boundary cuts a bin, :t being midnight) —
-- occurred_at = the bin's last event (same week and window as every event of the bin),
-- duration_seconds = the bin's sum over its cells (courses and days; null when no event had
-- one): the pure function only takes maxima, sums per type and distinct types per week and
-- window, so these rows give it what the cells give (issue 18: 2.2x fewer rows than one per
-- cell, each row a COPY message and a parsed line) — plus, per learner, their latest event
-- known at :t at or before :since still retained at :t (only its time is used), from the
-- rollup's days before the window (events after :kept), an event at exactly :kept (its bin ends
-- at :kept, before the rollup's first day) and the retained activity summary. The pure function
-- gives from these rows what it gives from engagement_events.sql; learners without an active
-- enrollment are left out there.
select a.user_id, max(a.last_at) as occurred_at, sum(a.duration_seconds)::float8 as duration_seconds,
       nullif(a.content_type, '') as content_type, mod(abs(hashtext(a.user_id)::bigint), :n) as chunk
from learner_daily_activity a
where a.day >= (cast(:since as timestamptz) at time zone 'UTC')::date
  and a.day < (cast(:t as timestamptz) at time zone 'UTC')::date
  and mod(abs(hashtext(a.user_id)::bigint), :n) between :i and :j
group by a.user_id, ((cast(:t as timestamptz) at time zone 'UTC')::date - a.day - 1) / :bin, a.content_type
union all
select p.user_id, max(p.occurred_at) as occurred_at, 0::float8 as duration_seconds,
       null::text as content_type, mod(abs(hashtext(p.user_id)::bigint), :n) as chunk
from (
  select a.user_id, a.last_at as occurred_at
  from learner_daily_activity a
  where a.day >= (cast(:kept as timestamptz) at time zone 'UTC')::date
    and a.day < (cast(:since as timestamptz) at time zone 'UTC')::date
    and mod(abs(hashtext(a.user_id)::bigint), :n) between :i and :j
  union all
  select le.user_id, le.occurred_at
  from learning_events le
  where le.occurred_at = :kept and le.updated_at <= :t
    and mod(abs(hashtext(le.user_id)::bigint), :n) between :i and :j
  union all
  select s.user_id, s.last_event_at
  from learner_activity_summary s
  where s.last_event_at <= :since
    and mod(abs(hashtext(s.user_id)::bigint), :n) between :i and :j
) p
group by p.user_id
