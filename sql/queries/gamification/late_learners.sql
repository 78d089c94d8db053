-- The learners with late data: raw rows (event, passing-or-not result, course completion) that
-- arrived — updated_at — in [:start, :t] but whose activity instant lies before :start (an event
-- of 28 November loaded on the 30th), which a window cut by the activity instant alone would never
-- award. Per learner the window start moves back to the oldest such instant, at most to :floor
-- (T − CATCH_UP_DAYS); every other learner keeps [:start, :t]. The steps read the late learners'
-- rows by their per-learner indexes (user_id, instant), so the cost follows the late learners.
CREATE TEMP TABLE tmp_late_learners ON COMMIT DROP AS
SELECT user_id, greatest(min(at), CAST(:floor AS timestamptz)) AS start
FROM (
  SELECT user_id, occurred_at AS at FROM learning_events
  WHERE updated_at >= :start AND updated_at <= :t AND occurred_at < :start
  UNION ALL
  SELECT user_id, submitted_at FROM assessment_results
  WHERE updated_at >= :start AND updated_at <= :t AND submitted_at < :start
  UNION ALL
  SELECT user_id, completed_at FROM enrollments
  WHERE updated_at >= :start AND updated_at <= :t AND completed_at < :start
) late
WHERE user_id IS NOT NULL
GROUP BY user_id
HAVING greatest(min(at), CAST(:floor AS timestamptz)) < :start
