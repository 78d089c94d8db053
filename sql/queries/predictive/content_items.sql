SELECT id, course_id, title, content_type, skill_ids FROM content_items
