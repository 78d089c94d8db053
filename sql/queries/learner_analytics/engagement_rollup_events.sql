-- Engagement's events from the daily activity rollup (used with engagement_rollup_sessions.sql,
-- under the same conditions), chunks :i to :j of :n (column chunk: one scan serves several
-- chunks, store.run_snapshot): one event-shaped row per rollup cell (learner, course, content
-- type, day) with day bins inside the 8 trend weeks (:since, :t] — occurred_at = the cell's last
-- event (same week and window as every event of its day, :t being midnight), duration_seconds =
-- the cell's sum (null when no event had one); the cells are not summed over courses here (a
-- GROUP BY that sorted every cell of the weeks on disk, 2/3 of this read: issue 18): the pure
-- function sums the durations per type and takes maxima and distinct types anyway — plus, per learner, their latest event
-- known at :t at or before :since still retained at :t (only its time is used), from the
-- rollup's days before the window (events after :kept), an event at exactly :kept (its bin ends
-- at :kept, before the rollup's first day) and the retained activity summary. The pure function
-- gives from these rows what it gives from engagement_events.sql (every other value is a
-- per-day or per-week max, sum or distinct count); learners without an active enrollment are
-- left out there.
select a.user_id, a.last_at as occurred_at, a.duration_seconds::float8 as duration_seconds,
       nullif(a.content_type, '') as content_type, mod(abs(hashtext(a.user_id)::bigint), :n) as chunk
from learner_daily_activity a
where a.day >= (cast(:since as timestamptz) at time zone 'UTC')::date
  and a.day < (cast(:t as timestamptz) at time zone 'UTC')::date
  and mod(abs(hashtext(a.user_id)::bigint), :n) between :i and :j
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
