SELECT id, user_id, course_id, content_id, content_type, event_type, occurred_at
FROM tmp_window_events
WHERE bucket = :bucket
