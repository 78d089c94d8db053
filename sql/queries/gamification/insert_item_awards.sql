-- The COPYed awards (all buckets) into the ledger: an origin (activity_type, source_id) already
-- there is skipped, so a re-run or a backfill never awards twice. Learners not in users are
-- skipped (counted by the asset; a later re-run awards them). One statement in origin order, so
-- the unique origin index (and the per-learner one) is filled front to back, not at random; the
-- id is a time-ordered UUID (v7 layout, evaluated after the sort) so the primary key grows at its
-- right edge instead of at random pages (docs/gamification.md, "Catch-up").
-- A first build (empty, locked ledger) runs this without its ON CONFLICT clause and without the
-- unique keys, built after the rows: the staged origins are distinct by construction (item_awards
-- keys each learner's item once; buckets split learners), and one staged twice would fail the
-- unique key's creation, rolling the build back (store._write, bulk.indexes_built_after).
-- The learners of the new awards are logged for the incremental user_points (migration 0017).
-- Returns the new awards per activity type.
WITH inserted AS (
  INSERT INTO point_transactions (id, user_id, points, activity_type, source_id, metadata, "timestamp")
  SELECT overlay(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') PLACING '-' FROM 9 FOR 0)
         || '-7' || substr(gen_random_uuid()::text, 16),
         t.user_id, t.points, t.activity_type, t.source_id,
         coalesce(t.metadata, '{}'::jsonb) || jsonb_build_object('origin_id', t.origin_id),
         t."timestamp"
  FROM tmp_point_awards t
  WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)
  ORDER BY t.activity_type, t.source_id
  ON CONFLICT (activity_type, source_id) DO NOTHING
  RETURNING activity_type, user_id
), logged AS (
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT DISTINCT user_id, 'point_transactions', 'inserted' FROM inserted
)
SELECT activity_type, count(*) AS n FROM inserted GROUP BY activity_type
