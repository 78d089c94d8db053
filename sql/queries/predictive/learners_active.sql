-- Every learner with an enrollment active at :t (enrolled_at <= :t, not completed or withdrawn
-- by :t), opted out or not: the drop-off cohorts are every active enrollment of the platform.
INSERT INTO pg_temp.predictive_learners (user_id)
SELECT DISTINCT user_id FROM enrollments
WHERE enrolled_at <= :t
  AND (completed_at IS NULL OR completed_at > :t)
  AND (withdrawn_at IS NULL OR withdrawn_at > :t)
