-- The chunk's rows of pg_temp.predictive_due_firsts (dropout_due_firsts.sql).
SELECT user_id, course_id, content_id, occurred_at
FROM pg_temp.predictive_due_firsts
WHERE user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
