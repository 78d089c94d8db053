-- Events with a content item known at :t in (:since, :t] of the learners of chunk :i of :n:
-- the evidence of content effectiveness (results of the lookback paired with completions of
-- the 14 days before).
SELECT user_id, content_id, event_type, occurred_at
FROM learning_events
WHERE content_id IS NOT NULL AND occurred_at > :since AND occurred_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
