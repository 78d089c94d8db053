-- Enrollments of the learners of chunk :i of :n enrolled by :t that had not ended before :since,
-- and every enrollment of a course run ending after :since (a finished run's labels need its
-- early withdrawals too): the drop-off layer's history and the enrollments it scores.
SELECT user_id, course_id, enrolled_at, target_completion_at, completed_at, withdrawn_at
FROM enrollments
WHERE enrolled_at <= :t
  AND (((completed_at IS NULL OR completed_at > :since) AND (withdrawn_at IS NULL OR withdrawn_at > :since))
       OR course_id IN (SELECT id FROM courses WHERE ends_at > :since))
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
