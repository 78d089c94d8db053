-- The candidates' skills rows up to T, read once, with the learner's hash bucket and stored in
-- bucket order: achievement_skills.sql then reads one bucket at a time from here.
CREATE TEMP TABLE tmp_achievement_skills ON COMMIT DROP AS
SELECT mod(abs(hashtext(c.user_id)), :buckets) AS bucket, s.user_id, s.skill_id, s.mastery_level::float8 AS mastery_level, s.last_assessed_at
FROM user_skills s JOIN tmp_achievement_candidates c ON c.user_id = s.user_id
WHERE s.last_assessed_at <= :t AND s.mastery_level >= :mastery_threshold
ORDER BY 1
