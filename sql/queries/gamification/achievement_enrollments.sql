SELECT id, user_id, course_id, completed_at
FROM tmp_achievement_enrollments
WHERE bucket = :bucket
