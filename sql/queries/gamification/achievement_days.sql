SELECT user_id, date, first_activity_at, last_activity_at
FROM tmp_achievement_days
WHERE bucket = :bucket
