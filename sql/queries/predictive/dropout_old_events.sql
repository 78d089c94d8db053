-- The raw events of the chunk's learners known at :t in (:since, :floor_at]: those before the
-- rollup's oldest day bin (retention deletes them later in the nightly), read as
-- dropout_events.sql reads them.
SELECT user_id, course_id, content_id, occurred_at
FROM learning_events
WHERE occurred_at > :since AND occurred_at <= :floor_at AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
