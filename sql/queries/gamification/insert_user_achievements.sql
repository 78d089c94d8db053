-- Each achievement once per learner. A re-run finds it there and changes nothing; late data
-- that shows the criterion was met earlier moves earned_at back (never forward). One statement
-- for all buckets in key order, with time-ordered ids (see insert_item_awards.sql); returns the
-- counts inserted and moved back.
WITH upserted AS (
  INSERT INTO user_achievements AS a (id, user_id, achievement_id, earned_at)
  SELECT overlay(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') PLACING '-' FROM 9 FOR 0)
         || '-7' || substr(gen_random_uuid()::text, 16),
         t.user_id, t.achievement_id, t.earned_at
  FROM tmp_user_achievements t
  WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)
    AND EXISTS (SELECT 1 FROM achievements x WHERE x.id = t.achievement_id)
  ORDER BY t.user_id, t.achievement_id
  ON CONFLICT (user_id, achievement_id) DO UPDATE SET earned_at = EXCLUDED.earned_at
  WHERE EXCLUDED.earned_at < a.earned_at
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS moved_back
FROM upserted
