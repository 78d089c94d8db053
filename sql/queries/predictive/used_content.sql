-- Every item each learner of chunk :i of :n used (any event known at :t): never recommended again.
SELECT DISTINCT user_id, content_id
FROM learning_events
WHERE content_id IS NOT NULL AND occurred_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
