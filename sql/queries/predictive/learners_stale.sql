-- The learners whose cache row of :kind must be (re)computed at :t: active at :t (an
-- enrollment with enrolled_at <= :t, not completed/withdrawn by :t) and without a *fresh* row.
-- A row is fresh when calculated_at <= :t < expires_at and no input of the kind changed since
-- its calculated_at: no row of the learner's learning events, enrollments, (:results)
-- assessment results or (:skills) user skills has updated_at in (calculated_at, :t], and
-- (:catalog) no content item changed after it either, nor a skill that a course of the
-- learner's enrollments requires (course_skills: a learner's gaps, the only skills whose
-- names their recommendations show, are skills of their courses; a skill no course of theirs
-- requires changes nothing of theirs). Learners whose preferences turn the kind off
-- (:pref_key false, as preferences.sql) are left out: they get no row.
INSERT INTO pg_temp.predictive_learners (user_id)
WITH cached AS (
  SELECT user_id, max(calculated_at) AS calculated_at
  FROM predictive_analytics_cache
  WHERE analytics_type = :kind AND calculated_at <= :t AND expires_at > :t
  GROUP BY user_id
), floor AS (
  SELECT coalesce(min(calculated_at), :t) AS at FROM cached
), changed AS (
  SELECT user_id, max(updated_at) AS updated_at FROM learning_events
  WHERE updated_at > (SELECT at FROM floor) AND updated_at <= :t GROUP BY user_id
  UNION ALL
  SELECT user_id, max(updated_at) FROM enrollments
  WHERE updated_at > (SELECT at FROM floor) AND updated_at <= :t GROUP BY user_id
  UNION ALL
  SELECT user_id, max(updated_at) FROM assessment_results
  WHERE :results AND updated_at > (SELECT at FROM floor) AND updated_at <= :t GROUP BY user_id
  UNION ALL
  SELECT user_id, max(updated_at) FROM user_skills
  WHERE :skills AND updated_at > (SELECT at FROM floor) AND updated_at <= :t GROUP BY user_id
  UNION ALL
  SELECT e.user_id, max(s.updated_at) FROM skills s
  JOIN course_skills cs ON cs.skill_id = s.id JOIN enrollments e ON e.course_id = cs.course_id
  WHERE :catalog AND s.updated_at > (SELECT at FROM floor) AND s.updated_at <= :t AND e.enrolled_at <= :t
  GROUP BY e.user_id
), catalog AS (
  SELECT max(updated_at) AS at FROM content_items WHERE :catalog AND updated_at <= :t
), fresh AS (
  SELECT c.user_id FROM cached c
  WHERE c.calculated_at >= coalesce((SELECT at FROM catalog), '-infinity'::timestamptz)
    AND NOT EXISTS (SELECT 1 FROM changed x WHERE x.user_id = c.user_id AND x.updated_at > c.calculated_at)
)
SELECT DISTINCT e.user_id FROM enrollments e
WHERE e.enrolled_at <= :t
  AND (e.completed_at IS NULL OR e.completed_at > :t)
  AND (e.withdrawn_at IS NULL OR e.withdrawn_at > :t)
  AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.user_id = e.user_id)
  AND NOT EXISTS (SELECT 1 FROM user_preferences p WHERE p.user_id = e.user_id
                  AND lower(trim(p.predictive_analytics_enabled ->> :pref_key)) IN ('false', '0', 'no', 'off'))
