-- Every item each learner active at :t used (any event known at :t): never recommended again.
SELECT DISTINCT e.user_id, e.content_id
FROM learning_events e
WHERE e.content_id IS NOT NULL AND e.occurred_at <= :t AND e.updated_at <= :t
  AND EXISTS (
    SELECT 1 FROM enrollments n
    WHERE n.user_id = e.user_id AND n.enrolled_at <= :t
      AND (n.completed_at IS NULL OR n.completed_at > :t)
      AND (n.withdrawn_at IS NULL OR n.withdrawn_at > :t))
