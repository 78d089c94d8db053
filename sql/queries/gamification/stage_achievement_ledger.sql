-- The candidates' ledger rows up to T, read once, with the learner's hash bucket and stored in
-- bucket order: achievement_ledger.sql then reads one bucket at a time from here.
CREATE TEMP TABLE tmp_achievement_ledger ON COMMIT DROP AS
SELECT mod(abs(hashtext(c.user_id)), :buckets) AS bucket, pt.user_id, pt.points, pt.activity_type, pt.source_id, pt."timestamp"
FROM point_transactions pt JOIN tmp_achievement_candidates c ON c.user_id = pt.user_id
WHERE pt."timestamp" <= :t
ORDER BY 1
