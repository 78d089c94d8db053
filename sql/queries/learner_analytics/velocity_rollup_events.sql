-- Velocity's events from the daily activity rollup (used only when the rollup is exact for
-- :t and :t is UTC midnight): one event-shaped row per learner, course and bin of :bin days
-- counted back from :t (store: :bin = gcd of window_days, trend_half_days and
-- inactive_days_at_risk, so no window or half boundary cuts a bin) of chunks :i to :j of :n
-- (chunk = the learner's hash bucket, as in every read; one scan serves several chunks, split by
-- the column chunk: store.run_snapshot) with day bins (day, day + 1] inside the window (:since,
-- :t]: occurred_at = the last event of the bin (same age bucket as every event of the bin),
-- progress_delta = the bin's exact sum (0 when no event had one). Same sums per window and half
-- as the raw events (issue 18: one row per 14 days instead of per day, 3x fewer rows at M).
select a.user_id, nullif(a.course_id, '') as course_id, max(a.last_at) as occurred_at,
       coalesce(sum(a.progress_delta), 0)::float8 as progress_delta,
       mod(abs(hashtext(a.user_id)::bigint), :n) as chunk
from learner_daily_activity a
where a.day >= (cast(:since as timestamptz) at time zone 'UTC')::date
  and a.day < (cast(:t as timestamptz) at time zone 'UTC')::date
  and mod(abs(hashtext(a.user_id)::bigint), :n) between :i and :j
group by a.user_id, a.course_id, ((cast(:t as timestamptz) at time zone 'UTC')::date - a.day - 1) / :bin
