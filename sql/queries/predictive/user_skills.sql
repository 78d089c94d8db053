-- Current levels of the learners of chunk :i of :n; the pure layer leaves out rows last assessed after :t.
SELECT user_id, skill_id, mastery_level::float8 AS mastery_level, last_assessed_at
FROM user_skills
WHERE (last_assessed_at IS NULL OR last_assessed_at <= :t)
  AND user_id IN (SELECT user_id FROM pg_temp.predictive_chunk)
