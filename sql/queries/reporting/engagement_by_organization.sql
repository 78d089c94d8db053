-- Engagement scores of each learner's latest snapshot at or before :as_of, with the organisation's name.
SELECT coalesce(o.name, 'No organisation') AS organization, e.overall_score::int AS overall_score
FROM (
  SELECT DISTINCT ON (user_id) user_id, overall_score
  FROM engagement_analytics
  WHERE calculated_at <= :as_of
  ORDER BY user_id, calculated_at DESC
) e
JOIN users u ON u.id = e.user_id
LEFT JOIN organizations o ON o.id = u.organization_id
