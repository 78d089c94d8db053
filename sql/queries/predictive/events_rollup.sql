-- events.sql with the carry-over row summed from the learner daily activity rollup (only when
-- it is exact for T = :t, a UTC midnight, and the window starts at or after its oldest day bin
-- :floor: store.forecast_run): the window's events (:since, :t] as events.sql, plus ONE row
-- per (learner, course) for everything known before the window: the raw events before the
-- rollup's oldest bin (up to :floor_at; retention deletes them later in the nightly) and the
-- rollup's cells of the days from :floor to the day before :since_day (bins (day, day + 1] ending
-- at or before :since). occurred_at = their last event, progress_delta = their exact sum (numeric
-- sums of exact numeric sums: the same number as events.sql's), duration 0; updated_at = the
-- raw ones' last or :t (the rollup's cells are known at :t; the caller only cuts at :t).
\ir forecast_window_events.sql
UNION ALL
SELECT user_id, course_id, max(occurred_at), 0::float8, coalesce(sum(progress_delta), 0)::float8, max(updated_at)
FROM (
  SELECT user_id, course_id, occurred_at, progress_delta::numeric AS progress_delta, updated_at
  FROM learning_events
  WHERE occurred_at <= :floor_at AND updated_at <= :t
    AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
  UNION ALL
  SELECT user_id, nullif(course_id, ''), last_at, progress_delta::numeric, cast(:t AS timestamptz)
  FROM learner_daily_activity
  WHERE day >= cast(:floor AS date) AND day < cast(:since_day AS date)
    AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
) older
GROUP BY user_id, course_id
