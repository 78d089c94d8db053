INSERT INTO user_points AS p (user_id, total_points, current_level, current_streak, longest_streak, updated_at)
SELECT t.user_id, t.total_points, t.current_level, t.current_streak, t.longest_streak, now() FROM tmp_user_points t
WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)  -- a learner erased meanwhile: run again without it
ON CONFLICT (user_id) DO UPDATE SET
  total_points = EXCLUDED.total_points,
  current_level = EXCLUDED.current_level,
  current_streak = EXCLUDED.current_streak,
  longest_streak = EXCLUDED.longest_streak,
  updated_at = now()
WHERE (p.total_points, p.current_level, p.current_streak, p.longest_streak)
      IS DISTINCT FROM (EXCLUDED.total_points, EXCLUDED.current_level, EXCLUDED.current_streak, EXCLUDED.longest_streak)
RETURNING (xmax = 0) AS inserted
