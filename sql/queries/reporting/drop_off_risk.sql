-- Drop-off predictions as the predictive snapshot stores them (predictive_analytics_cache, kind
-- 'drop_off_risk'): each learner's newest row calculated at or before :as_of and still live then.
-- Read as stored: data.probability, data.risk_level, data.top_reasons, data.method and
-- confidence_score; a row whose gates left probability or risk_level empty is "not scored".
-- Learners who turned drop-off predictions off have no row (the writer deletes them).
SELECT coalesce(o.name, 'No organisation') AS organization,
       u.full_name AS learner,
       (c.data ->> 'probability')::float AS probability,
       c.data ->> 'risk_level' AS risk_level,
       c.confidence_score::float AS confidence_score,
       c.data ->> 'method' AS method,
       coalesce(c.data -> 'top_reasons', '[]'::jsonb)::text AS top_reasons
FROM (
  SELECT DISTINCT ON (user_id) user_id, data, confidence_score
  FROM predictive_analytics_cache
  WHERE analytics_type = 'drop_off_risk' AND calculated_at <= :as_of AND expires_at > :as_of
  ORDER BY user_id, calculated_at DESC
) c
JOIN users u ON u.id = c.user_id
LEFT JOIN organizations o ON o.id = u.organization_id
