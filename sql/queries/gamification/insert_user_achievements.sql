-- Each achievement once per learner. A re-run finds it there and changes nothing; late data
-- that shows the criterion was met earlier moves earned_at back (never forward).
INSERT INTO user_achievements AS a (user_id, achievement_id, earned_at)
SELECT t.user_id, t.achievement_id, t.earned_at
FROM tmp_user_achievements t
WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)
  AND EXISTS (SELECT 1 FROM achievements x WHERE x.id = t.achievement_id)
ON CONFLICT (user_id, achievement_id) DO UPDATE SET earned_at = EXCLUDED.earned_at
WHERE EXCLUDED.earned_at < a.earned_at
RETURNING (xmax = 0) AS inserted
