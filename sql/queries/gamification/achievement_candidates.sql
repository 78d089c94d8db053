-- Learners who may have met a criterion in the partition: a ledger award, a mastered-skill
-- assessment or an active day in [:start, :t] (the other metrics all produce ledger awards).
CREATE TEMP TABLE tmp_achievement_candidates ON COMMIT DROP AS
SELECT DISTINCT user_id
FROM (
  SELECT user_id FROM point_transactions WHERE "timestamp" >= :start AND "timestamp" <= :t
  UNION
  SELECT user_id FROM user_skills WHERE last_assessed_at >= :start AND last_assessed_at <= :t
  UNION
  SELECT user_id FROM daily_activity WHERE last_activity_at >= :start
                                       AND coalesce(first_activity_at, last_activity_at) <= :t
) c
WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id)
