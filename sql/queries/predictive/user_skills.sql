-- Current levels; the pure layer leaves out rows last assessed after :t.
SELECT user_id, skill_id, mastery_level::float8 AS mastery_level, last_assessed_at
FROM user_skills
WHERE last_assessed_at IS NULL OR last_assessed_at <= :t
