-- Assessment results of the learners of chunk :i of :n known at :t, submitted since :since.
SELECT user_id, course_id, assessment_id, score::float8 AS score, passing_score::float8 AS passing_score,
       submitted_at
FROM assessment_results
WHERE submitted_at > :since AND submitted_at <= :t AND updated_at <= :t
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
