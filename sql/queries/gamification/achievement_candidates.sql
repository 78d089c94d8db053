-- Learners who may have met a criterion in the partition: a ledger award, a mastered-skill
-- assessment or an active day in [:start, :t] (the other metrics all produce ledger awards), or,
-- for a learner with late data (tmp_late_learners), in [that learner's start, :t].
CREATE TEMP TABLE tmp_achievement_candidates ON COMMIT DROP AS
SELECT DISTINCT user_id
FROM (
  SELECT user_id FROM point_transactions WHERE "timestamp" >= :start AND "timestamp" <= :t
  UNION
  SELECT user_id FROM user_skills WHERE last_assessed_at >= :start AND last_assessed_at <= :t
  UNION
  SELECT user_id FROM daily_activity WHERE last_activity_at >= :start
                                       AND coalesce(first_activity_at, last_activity_at) <= :t
  UNION
  SELECT l.user_id FROM tmp_late_learners l
  WHERE EXISTS (SELECT 1 FROM point_transactions pt WHERE pt.user_id = l.user_id
                  AND pt."timestamp" >= l.start AND pt."timestamp" <= :t)
     OR EXISTS (SELECT 1 FROM user_skills s WHERE s.user_id = l.user_id
                  AND s.last_assessed_at >= l.start AND s.last_assessed_at <= :t)
     OR EXISTS (SELECT 1 FROM daily_activity d WHERE d.user_id = l.user_id AND d.last_activity_at >= l.start
                  AND coalesce(d.first_activity_at, d.last_activity_at) <= :t)
) c
WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id)
