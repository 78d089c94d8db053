SELECT d.user_id, d.date, coalesce(d.first_activity_at, d.last_activity_at) AS first_activity_at,
       d.last_activity_at
FROM daily_activity d JOIN tmp_achievement_candidates c ON c.user_id = d.user_id
WHERE mod(abs(hashtext(c.user_id)), :buckets) = :bucket AND coalesce(d.first_activity_at, d.last_activity_at) <= :t
