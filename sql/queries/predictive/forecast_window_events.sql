-- The forecast's window (included by events.sql and events_rollup.sql): the learning events of
-- the learners of pg_temp.predictive_chunk known at :t (occurred_at and updated_at <= :t) that
-- occurred in (:since, :t], one row each.
SELECT user_id, course_id, occurred_at, duration_seconds::float8 AS duration_seconds,
       progress_delta::float8 AS progress_delta, updated_at
FROM learning_events
WHERE occurred_at > :since AND occurred_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
