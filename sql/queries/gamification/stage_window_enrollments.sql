-- The window's completed enrollments, read once, in bucket order (see stage_window_events.sql; a
-- late learner's from its own start).
CREATE TEMP TABLE tmp_window_enrollments ON COMMIT DROP AS
SELECT mod(abs(hashtext(user_id)), :buckets) AS bucket, id, user_id, course_id, completed_at
FROM (
  SELECT id, user_id, course_id, completed_at
  FROM enrollments
  WHERE completed_at >= :start AND completed_at <= :t
  UNION ALL
  SELECT e.id, e.user_id, e.course_id, e.completed_at
  FROM tmp_late_learners l
  JOIN enrollments e ON e.user_id = l.user_id
  WHERE e.completed_at >= l.start AND e.completed_at < :start
) w
ORDER BY 1
