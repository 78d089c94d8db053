-- Learning events of the window whose learner is not (yet) in users: not counted now; a re-run
-- of the partition after the user arrives counts them.
SELECT count(*) AS events, count(DISTINCT e.user_id) AS learners
FROM learning_events e
WHERE e.occurred_at >= :start AND e.occurred_at <= :t
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)
