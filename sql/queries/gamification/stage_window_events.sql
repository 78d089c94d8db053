-- The window's completed events, read once, with the learner's hash bucket and stored in bucket
-- order: the Python step then reads one bucket at a time from here (window_completed_events.sql)
-- instead of scanning the window once per bucket.
CREATE TEMP TABLE tmp_window_events ON COMMIT DROP AS
SELECT mod(abs(hashtext(user_id)), :buckets) AS bucket,
       id, user_id, course_id, content_id, content_type, event_type, occurred_at
FROM learning_events
WHERE event_type = 'completed' AND occurred_at >= :start AND occurred_at <= :t
ORDER BY 1
