-- Enrollments of the learners of chunk :i of :n that were active at some instant of
-- (:since, :t] (docs/raw-schema.md); the pure layer takes the state at each instant from the timestamps.
SELECT user_id, course_id, enrolled_at, target_completion_at, completed_at, withdrawn_at
FROM enrollments
WHERE enrolled_at <= :t
  AND (completed_at IS NULL OR completed_at > :since)
  AND (withdrawn_at IS NULL OR withdrawn_at > :since)
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
