-- Learning events of the learners of chunk :i of :n known at :t (occurred_at and updated_at
-- <= :t) since :since, each with its course and content item (the deadline features need
-- every submission of a run, so no carry-over row: :since is the earliest enrollment read).
SELECT user_id, course_id, content_id, occurred_at
FROM learning_events
WHERE occurred_at > :since AND occurred_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
