-- The window's passing results, read once, in bucket order (see stage_window_events.sql; a late
-- learner's from its own start).
CREATE TEMP TABLE tmp_window_results ON COMMIT DROP AS
SELECT mod(abs(hashtext(user_id)), :buckets) AS bucket,
       id, user_id, course_id, assessment_id, score::float8 AS score,
       passing_score::float8 AS passing_score, submitted_at
FROM (
  SELECT id, user_id, course_id, assessment_id, score, passing_score, submitted_at
  FROM assessment_results
  WHERE submitted_at >= :start AND submitted_at <= :t AND score >= passing_score
  UNION ALL
  SELECT r.id, r.user_id, r.course_id, r.assessment_id, r.score, r.passing_score, r.submitted_at
  FROM tmp_late_learners l
  JOIN assessment_results r ON r.user_id = l.user_id
  WHERE r.submitted_at >= l.start AND r.submitted_at < :start AND r.score >= r.passing_score
) w
ORDER BY 1
