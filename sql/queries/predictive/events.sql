-- Learning events of the learners of chunk :i of :n (pg_temp.predictive_learners, hash
-- buckets) known at :t (occurred_at <= :t and updated_at <= :t) in the window (:since, :t],
-- plus ONE carry-over row per (learner, course) for everything known before the window:
-- occurred_at = the last earlier event, progress_delta = their sum, duration 0.
-- Progress at any instant of the window and "days since last activity" stay exact although
-- the window is bounded; the carry-over row lies before every feature window of the
-- snapshots the caller trains on (the caller sizes :since for that).
\ir forecast_window_events.sql
UNION ALL
SELECT user_id, course_id, max(occurred_at), 0::float8, coalesce(sum(progress_delta), 0)::float8, max(updated_at)
FROM learning_events
WHERE occurred_at <= :since AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
GROUP BY user_id, course_id
