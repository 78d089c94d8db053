-- Daily first-activity and streak-bonus awards for the local days touched by the partition
-- (daily_activity rows with an event in [:start, :t]; a late learner's from its own start,
-- tmp_late_learners). The streak position of a day needs the
-- learner's earlier days, so the learner's whole history up to the last window day is read;
-- positions by gaps-and-islands (date - row_number is constant along a run of consecutive days).
-- Origin: user_id:YYYY-MM-DD of the local day; timestamp: the day's first event. Inserted in
-- origin order (the unique index is filled front to back), with time-ordered ids (see
-- insert_item_awards.sql); the learners of the new awards are logged (migration 0017); returns
-- the new awards per type.
-- A first build (empty, locked ledger) runs this without its ON CONFLICT clause and without the
-- unique keys, built after the rows: origins are distinct by construction (one per daily_activity
-- row and type; store._write, bulk.indexes_built_after with unique_keys).
WITH window_days AS (
  SELECT d.user_id, d.date
  FROM daily_activity d
  WHERE d.last_activity_at >= :start
    AND coalesce(d.first_activity_at, d.last_activity_at) <= :t
  UNION ALL  -- the late learners' earlier days (disjoint: last_activity_at before :start)
  SELECT d.user_id, d.date
  FROM tmp_late_learners l
  JOIN daily_activity d ON d.user_id = l.user_id
  WHERE d.last_activity_at >= l.start AND d.last_activity_at < :start
    AND coalesce(d.first_activity_at, d.last_activity_at) <= :t
), window_users AS (
  SELECT user_id, max(date) AS last_date FROM window_days GROUP BY user_id
), history AS (
  SELECT d.user_id, d.date, coalesce(d.first_activity_at, d.last_activity_at) AS first_activity_at,
         d.date - (row_number() OVER (PARTITION BY d.user_id ORDER BY d.date))::int AS run
  FROM daily_activity d
  JOIN window_users w ON w.user_id = d.user_id AND d.date <= w.last_date
), positions AS (
  SELECT h.user_id, h.date, h.first_activity_at,
         row_number() OVER (PARTITION BY h.user_id, h.run ORDER BY h.date) AS streak_day
  FROM history h
), zones AS MATERIALIZED (
  -- once per statement (one row per organisation): inlined into the join below, the planner
  -- rebuilt the distinct zone names (1,198) for every award row
  SELECT organization_id, tz FROM organization_timezones()
), awards AS (
  SELECT p.*, coalesce(ot.tz, 'UTC') AS tz
  FROM positions p
  JOIN window_days w ON w.user_id = p.user_id AND w.date = p.date
  JOIN users u ON u.id = p.user_id
  LEFT JOIN zones ot ON ot.organization_id = u.organization_id
), inserted AS (
  INSERT INTO point_transactions (id, user_id, points, activity_type, source_id, metadata, "timestamp")
  SELECT overlay(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') PLACING '-' FROM 9 FOR 0)
         || '-7' || substr(gen_random_uuid()::text, 16),
         user_id, points, activity_type, source_id, metadata, first_activity_at
  FROM (
    SELECT user_id, date, :daily_points AS points, 'daily_first_activity' AS activity_type,
           user_id || ':' || to_char(date, 'YYYY-MM-DD') AS source_id,
           jsonb_build_object('date', to_char(date, 'YYYY-MM-DD'), 'timezone', tz) AS metadata, first_activity_at
    FROM awards
    UNION ALL
    SELECT user_id, date, :streak_points, 'streak_bonus', user_id || ':' || to_char(date, 'YYYY-MM-DD'),
           jsonb_build_object('date', to_char(date, 'YYYY-MM-DD'), 'timezone', tz, 'streak_day', streak_day),
           first_activity_at
    FROM awards
    WHERE streak_day % :streak_every = 0
  ) a
  ORDER BY activity_type, user_id, date
  ON CONFLICT (activity_type, source_id) DO NOTHING
  RETURNING activity_type, user_id
), logged AS (
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT DISTINCT user_id, 'point_transactions', 'inserted' FROM inserted
)
SELECT activity_type, count(*) AS n FROM inserted GROUP BY activity_type
