SELECT count(*) FROM tmp_point_awards t WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)
