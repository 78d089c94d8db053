-- The window's completed enrollments, read once, in bucket order (see stage_window_events.sql).
CREATE TEMP TABLE tmp_window_enrollments ON COMMIT DROP AS
SELECT mod(abs(hashtext(user_id)), :buckets) AS bucket, id, user_id, course_id, completed_at
FROM enrollments
WHERE completed_at >= :start AND completed_at <= :t
ORDER BY 1
