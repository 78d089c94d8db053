SELECT id, user_id, course_id, completed_at
FROM tmp_window_enrollments
WHERE bucket = :bucket
