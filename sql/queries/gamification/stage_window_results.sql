-- The window's passing results, read once, in bucket order (see stage_window_events.sql).
CREATE TEMP TABLE tmp_window_results ON COMMIT DROP AS
SELECT mod(abs(hashtext(user_id)), :buckets) AS bucket,
       id, user_id, course_id, assessment_id, score::float8 AS score,
       passing_score::float8 AS passing_score, submitted_at
FROM assessment_results
WHERE submitted_at >= :start AND submitted_at <= :t AND score >= passing_score
ORDER BY 1
