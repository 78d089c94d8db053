-- dropout_events.sql as event cells, for scoring at :t only (every row's t = :t is at or after
-- every event): one row per (learner, course, content item, UTC day) of the learners of chunk
-- :i of :n, known at :t, since :since; occurred_at = the cell's last event, first_at = its
-- first, n = its events (course_features.py, "Event cells": the same features).
SELECT user_id, course_id, content_id, max(occurred_at) AS occurred_at, min(occurred_at) AS first_at,
       count(*) AS n
FROM learning_events
WHERE occurred_at > :since AND occurred_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_learners WHERE mod(abs(hashtext(user_id)::bigint), :n) = :i)
GROUP BY user_id, course_id, content_id, (occurred_at AT TIME ZONE 'UTC')::date
