-- The candidates' days rows up to T, read once, with the learner's hash bucket and stored in
-- bucket order: achievement_days.sql then reads one bucket at a time from here.
CREATE TEMP TABLE tmp_achievement_days ON COMMIT DROP AS
SELECT mod(abs(hashtext(c.user_id)), :buckets) AS bucket, d.user_id, d.date, coalesce(d.first_activity_at, d.last_activity_at) AS first_activity_at,
       d.last_activity_at
FROM daily_activity d JOIN tmp_achievement_candidates c ON c.user_id = d.user_id
WHERE coalesce(d.first_activity_at, d.last_activity_at) <= :t
ORDER BY 1
