-- Predictive objects: the trainers' view of drop-off risk.

-- Learners by drop-off risk, highest first: each learner's newest unexpired 'drop_off_risk'
-- row of predictive_analytics_cache (the writer keeps one live row per learner and kind, and
-- writes rows only for learners with an active enrollment at the snapshot instant; a row
-- lives 48 h). top_reasons = the features contributing most to the learner's risk.
-- security_invoker: the view runs with the reader's rights, so the row-level security
-- policies of predictive_analytics_cache (and users) apply through it.
CREATE VIEW learner_risk_current WITH (security_invoker = true) AS
SELECT r.user_id,
       u.organization_id,
       r.probability,
       r.risk_level,
       r.confidence_score,
       r.top_reasons,
       r.method,
       r.calculated_at,
       r.expires_at
FROM (
  SELECT DISTINCT ON (c.user_id)
         c.user_id,
         (c.data ->> 'probability')::double precision AS probability,
         c.data ->> 'risk_level' AS risk_level,
         c.confidence_score,
         coalesce(c.data -> 'top_reasons', '[]'::jsonb) AS top_reasons,
         c.data ->> 'method' AS method,
         c.calculated_at,
         c.expires_at
  FROM predictive_analytics_cache c
  WHERE c.analytics_type = 'drop_off_risk' AND c.expires_at > now()
  ORDER BY c.user_id, c.calculated_at DESC
) r
LEFT JOIN users u ON u.id = r.user_id
ORDER BY r.probability DESC, r.user_id;

-- The view and the writer's deletes look rows up by kind and learner.
CREATE INDEX idx_predictive_cache_type_user ON predictive_analytics_cache (analytics_type, user_id, calculated_at DESC);
