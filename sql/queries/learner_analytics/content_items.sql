select id, title, content_type, skill_ids from content_items
