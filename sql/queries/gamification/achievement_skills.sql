SELECT user_id, skill_id, mastery_level, last_assessed_at
FROM tmp_achievement_skills
WHERE bucket = :bucket
