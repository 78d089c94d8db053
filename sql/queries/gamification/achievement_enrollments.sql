SELECT e.id, e.user_id, e.course_id, e.completed_at
FROM enrollments e JOIN tmp_achievement_candidates c ON c.user_id = e.user_id
WHERE mod(abs(hashtext(c.user_id)), :buckets) = :bucket AND e.completed_at <= :t
