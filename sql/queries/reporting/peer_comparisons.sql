-- Peer groups as published (k-suppressed by the materialized view itself).
SELECT coalesce(o.name, pc.organization_id) AS organization, pc.competency_level,
       pc.avg_velocity::float AS avg_velocity, pc.median_velocity::float AS median_velocity,
       pc.avg_score::float AS avg_score, pc.sample_size::int AS sample_size
FROM peer_comparison_aggregates pc
LEFT JOIN organizations o ON o.id = pc.organization_id
WHERE pc.sample_size >= k_anonymity()
ORDER BY 1, CASE pc.competency_level WHEN 'beginner' THEN 1 WHEN 'intermediate' THEN 2 ELSE 3 END
