-- The zones the run just computed its learners in (tmp_user_points_learners: everyone on the full
-- path, else including every learner whose zone changed), for the next run's comparison
-- (user_points_learners.sql). A full run (:everyone) also drops the rows of learners gone from users.
-- The table has no foreign key to users: a learner erased since tmp_user_points_learners was filled
-- (the upsert before waited for the erasure's commit) is left out by the join with users.
WITH gone AS (
  DELETE FROM user_points_zones z
  WHERE CAST(:everyone AS boolean) AND NOT EXISTS (SELECT 1 FROM tmp_user_points_learners l WHERE l.user_id = z.user_id)
)
INSERT INTO user_points_zones AS z (user_id, tz)
SELECT l.user_id, l.tz FROM tmp_user_points_learners l
WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = l.user_id)  -- not a learner erased while the run computed
ORDER BY l.user_id
ON CONFLICT (user_id) DO UPDATE SET tz = EXCLUDED.tz WHERE z.tz IS DISTINCT FROM EXCLUDED.tz
