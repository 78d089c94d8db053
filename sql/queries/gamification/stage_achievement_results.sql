-- The candidates' results rows up to T, read once, with the learner's hash bucket and stored in
-- bucket order: achievement_results.sql then reads one bucket at a time from here.
CREATE TEMP TABLE tmp_achievement_results ON COMMIT DROP AS
SELECT mod(abs(hashtext(c.user_id)), :buckets) AS bucket, r.id, r.user_id, r.assessment_id, r.score::float8 AS score,
       r.passing_score::float8 AS passing_score, r.submitted_at
FROM assessment_results r JOIN tmp_achievement_candidates c ON c.user_id = r.user_id
WHERE r.submitted_at <= :t AND r.score >= r.passing_score
ORDER BY 1
