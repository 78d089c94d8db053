SELECT id, user_id, course_id, content_id, content_type, event_type, occurred_at
FROM learning_events
WHERE event_type = 'completed' AND occurred_at >= :start AND occurred_at <= :t
  AND mod(abs(hashtext(user_id)), :buckets) = :bucket
