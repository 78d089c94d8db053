-- The skills most often missing across learners (latest snapshot per learner at or before :as_of).
WITH latest AS (
  SELECT DISTINCT ON (user_id) user_id, gaps
  FROM skill_gap_analytics
  WHERE calculated_at <= :as_of
  ORDER BY user_id, calculated_at DESC
)
SELECT coalesce(g ->> 'skillName', s.name, g ->> 'skillId') AS skill,
       count(DISTINCT l.user_id)::int AS learners,
       (count(*) FILTER (WHERE (g ->> 'gap')::numeric >= :critical_gap))::int AS critical,
       round(avg((g ->> 'gap')::numeric), 1)::float AS avg_gap
FROM latest l
CROSS JOIN LATERAL jsonb_array_elements(l.gaps) AS g
LEFT JOIN skills s ON s.id = g ->> 'skillId'
GROUP BY 1
ORDER BY learners DESC, avg_gap DESC, skill
LIMIT :top
