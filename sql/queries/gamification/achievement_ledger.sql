SELECT user_id, points, activity_type, source_id, "timestamp"
FROM tmp_achievement_ledger
WHERE bucket = :bucket
