-- The window's completed events, read once, with the learner's hash bucket and stored in bucket
-- order: the Python step then reads one bucket at a time from here (window_completed_events.sql)
-- instead of scanning the window once per bucket. The window is [:start, :t], and for a learner
-- with late data (tmp_late_learners) [its start, :t]: its earlier rows by the per-learner index.
CREATE TEMP TABLE tmp_window_events ON COMMIT DROP AS
SELECT mod(abs(hashtext(user_id)), :buckets) AS bucket,
       id, user_id, course_id, content_id, content_type, event_type, occurred_at
FROM (
  SELECT id, user_id, course_id, content_id, content_type, event_type, occurred_at
  FROM learning_events
  WHERE event_type = 'completed' AND occurred_at >= :start AND occurred_at <= :t
  UNION ALL
  SELECT e.id, e.user_id, e.course_id, e.content_id, e.content_type, e.event_type, e.occurred_at
  FROM tmp_late_learners l
  JOIN learning_events e ON e.user_id = l.user_id
  WHERE e.event_type = 'completed' AND e.occurred_at >= l.start AND e.occurred_at < :start
) w
ORDER BY 1
