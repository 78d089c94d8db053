SELECT s.user_id, s.skill_id, s.mastery_level::float8 AS mastery_level, s.last_assessed_at
FROM user_skills s JOIN tmp_achievement_candidates c ON c.user_id = s.user_id
WHERE mod(abs(hashtext(c.user_id)), :buckets) = :bucket AND s.last_assessed_at <= :t AND s.mastery_level >= :mastery_threshold
