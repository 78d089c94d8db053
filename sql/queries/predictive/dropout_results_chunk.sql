-- The chunk's rows of pg_temp.predictive_results (dropout_active_results.sql) submitted after :since.
SELECT user_id, course_id, assessment_id, score, passing_score, submitted_at
FROM pg_temp.predictive_results
WHERE submitted_at > :since AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
