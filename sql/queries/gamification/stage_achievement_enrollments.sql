-- The candidates' enrollments rows up to T, read once, with the learner's hash bucket and stored in
-- bucket order: achievement_enrollments.sql then reads one bucket at a time from here.
CREATE TEMP TABLE tmp_achievement_enrollments ON COMMIT DROP AS
SELECT mod(abs(hashtext(c.user_id)), :buckets) AS bucket, e.id, e.user_id, e.course_id, e.completed_at
FROM enrollments e JOIN tmp_achievement_candidates c ON c.user_id = e.user_id
WHERE e.completed_at <= :t
ORDER BY 1
