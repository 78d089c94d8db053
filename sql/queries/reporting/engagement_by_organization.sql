-- Engagement of each learner's latest snapshot at or before :as_of, with the organisation's name.
-- A learner without a session in the snapshot's window (sessions_per_week 0 or NULL) or without a
-- score has no activity: overall_score is NULL then (never a score of 0) and active is false.
SELECT coalesce(o.name, 'No organisation') AS organization,
       CASE WHEN e.active THEN e.overall_score::int END AS overall_score,
       e.active
FROM (
  SELECT DISTINCT ON (user_id) user_id, overall_score,
         (overall_score IS NOT NULL AND coalesce(sessions_per_week, 0) > 0) AS active
  FROM engagement_analytics
  WHERE calculated_at <= :as_of
  ORDER BY user_id, calculated_at DESC
) e
JOIN users u ON u.id = e.user_id
LEFT JOIN organizations o ON o.id = u.organization_id
