SELECT id, user_id, course_id, completed_at
FROM enrollments
WHERE completed_at >= :start AND completed_at <= :t
  AND mod(abs(hashtext(user_id)), :buckets) = :bucket
