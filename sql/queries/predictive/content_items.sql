SELECT id, course_id, title, content_type, skill_ids, due_at, weight::float8 AS weight FROM content_items
