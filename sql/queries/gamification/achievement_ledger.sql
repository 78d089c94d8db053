SELECT pt.user_id, pt.points, pt.activity_type, pt.source_id, pt."timestamp"
FROM point_transactions pt JOIN tmp_achievement_candidates c ON c.user_id = pt.user_id
WHERE mod(abs(hashtext(c.user_id)), :buckets) = :bucket AND pt."timestamp" <= :t
