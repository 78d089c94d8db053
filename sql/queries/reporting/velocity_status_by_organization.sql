-- Learners per velocity status and organisation, from each learner's latest snapshot at or before
-- :as_of. A learner with no progress in the window (current_pace 0 or NULL) is 'no_progress',
-- whatever status the snapshot gives: stalled and slow are different answers.
SELECT coalesce(o.name, 'No organisation') AS organization,
       CASE WHEN coalesce(v.current_pace, 0) = 0 THEN 'no_progress' ELSE v.status END AS status,
       count(*)::int AS learners
FROM (
  SELECT DISTINCT ON (user_id) user_id, status, current_pace
  FROM learner_velocity_analytics
  WHERE calculated_at <= :as_of
  ORDER BY user_id, calculated_at DESC
) v
JOIN users u ON u.id = v.user_id
LEFT JOIN organizations o ON o.id = u.organization_id
GROUP BY 1, 2
ORDER BY 1, 2
