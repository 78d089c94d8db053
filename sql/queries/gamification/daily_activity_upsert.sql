-- daily_activity for one partition: one row per learner per local day (organisation time zone,
-- else UTC) that has a learning event in [:start, :t], or, for a learner with late data
-- (tmp_late_learners, late_learners.sql), in [that learner's start, :t]. Events are read from
-- :lookback (26 h) before the start so a local day that began in the previous UTC day gets its true
-- first event.
-- Upsert: first = least, last = greatest, so re-runs and out-of-order backfills converge.
-- Written in (user_id, date) order (the unique index is filled front to back) with time-ordered
-- ids (see insert_item_awards.sql); a conflicting row keeps its id. The learners of inserted days
-- are logged for the incremental user_points (updated ones by the trigger of migration 0017).
-- Returns the counts of days inserted and updated.
-- A first build (empty, locked table) runs this without its ON CONFLICT clause and without the
-- unique keys, built after the rows: the grouping makes (user_id, date) distinct (store._write,
-- bulk.indexes_built_after with unique_keys).
WITH tz AS (
  SELECT u.id AS user_id, coalesce(ot.tz, 'UTC') AS tz
  FROM users u
  LEFT JOIN organization_timezones() ot ON ot.organization_id = u.organization_id
), events AS (
  SELECT e.user_id, e.occurred_at
  FROM learning_events e
  WHERE e.occurred_at >= CAST(:start AS timestamptz) - CAST(:lookback AS interval) AND e.occurred_at <= :t
  UNION ALL  -- the late learners' earlier events (disjoint: before the shared read)
  SELECT e.user_id, e.occurred_at
  FROM tmp_late_learners l
  JOIN learning_events e ON e.user_id = l.user_id
  WHERE e.occurred_at >= l.start - CAST(:lookback AS interval)
    AND e.occurred_at < CAST(:start AS timestamptz) - CAST(:lookback AS interval)
), days AS (
  SELECT e.user_id,
         (e.occurred_at AT TIME ZONE tz.tz)::date AS date,
         min(e.occurred_at) AS first_activity_at,
         max(e.occurred_at) AS last_activity_at
  FROM events e
  JOIN tz ON tz.user_id = e.user_id
  LEFT JOIN tmp_late_learners l ON l.user_id = e.user_id
  GROUP BY e.user_id, (e.occurred_at AT TIME ZONE tz.tz)::date
  HAVING max(e.occurred_at) >= coalesce(min(l.start), :start)
), upserted AS (
  INSERT INTO daily_activity AS d (id, user_id, date, first_activity_at, last_activity_at)
  SELECT overlay(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') PLACING '-' FROM 9 FOR 0)
         || '-7' || substr(gen_random_uuid()::text, 16),
         user_id, date, first_activity_at, last_activity_at FROM days
  ORDER BY user_id, date
  ON CONFLICT (user_id, date) DO UPDATE SET
    first_activity_at = LEAST(d.first_activity_at, EXCLUDED.first_activity_at),
    last_activity_at = GREATEST(d.last_activity_at, EXCLUDED.last_activity_at)
  WHERE d.first_activity_at IS DISTINCT FROM LEAST(d.first_activity_at, EXCLUDED.first_activity_at)
     OR d.last_activity_at IS DISTINCT FROM GREATEST(d.last_activity_at, EXCLUDED.last_activity_at)
  RETURNING (xmax = 0) AS inserted, user_id
), logged AS (
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT DISTINCT user_id, 'daily_activity', 'inserted' FROM upserted WHERE inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated
FROM upserted
