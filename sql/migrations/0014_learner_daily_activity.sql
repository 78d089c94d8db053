-- Learner daily activity rollup (issue 18): per learner x course x content type x day, the
-- learning events summed, so that a window-based analytic (velocity) reads small rows per
-- learner instead of re-reading the raw events every night.
--
-- day = the UTC day whose bin is (day 00:00, day + 1 00:00]: an event at exactly 00:00 belongs
-- to the day that ends then, as the analytics' windows (T - k days, T] with T at UTC midnight
-- (day = ((occurred_at at time zone 'UTC') - 1 microsecond)::date).
--
-- As-of safe: the rollup is exact for one instant, learner_daily_activity_asof.asof = A: every
-- row sums exactly the events of its cell known at A (updated_at <= A, whatever occurred_at).
-- The pipeline (asset learner_daily_activity, before the snapshots of T) moves A to T by
-- recomputing only the (learner, day) cells touched by events ingested in (A, T]
-- (sql/queries/learner_analytics/daily_activity_update.sql). A reader uses it only for
-- T = A; any other T (a backfill, a re-run of a past day) reads the raw events.
-- Changes the ingestion time does not show (updates, deletions, rows inserted with an old
-- updated_at) mark their cells in learning_events_rollup_dirty (statement triggers below).
-- Cells whose bin ends before the retention cutoff (T - 90 d) are deleted by the same
-- maintenance (the raw rows go with retention); erasure deletes a learner's rows.
CREATE TABLE learner_daily_activity (
  user_id          text NOT NULL,
  course_id        text NOT NULL DEFAULT '',   -- '' = event without course
  content_type     text NOT NULL DEFAULT '',   -- '' = event without content type
  day              date NOT NULL,
  events           integer NOT NULL,
  duration_seconds double precision,           -- sum; NULL when no event of the cell has one
  progress_delta   numeric(12,2),              -- exact sum; NULL when no event of the cell has one
  progress_events  integer NOT NULL,           -- events with a progress_delta
  first_at         timestamptz NOT NULL,       -- first / last occurred_at of the cell
  last_at          timestamptz NOT NULL,
  PRIMARY KEY (user_id, day, course_id, content_type)
);
-- the readers' windows and the removal of days past retention go by day
CREATE INDEX idx_learner_daily_activity_day ON learner_daily_activity(day);
-- The instant the rollup is exact for (one row; absent: never built).
CREATE TABLE learner_daily_activity_asof (
  one        boolean PRIMARY KEY DEFAULT true CHECK (one),
  asof       timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE learner_daily_activity IS
  'Per learner x course x content type x UTC day (bin (day, day+1]): events, summed duration and progress_delta, first/last occurred_at of the events known at learner_daily_activity_asof.asof (issue 18). Retained 90 days; erased with the learner.';

-- Cells a change of learning_events made stale that the ingestion time does not show: an
-- event updated (its old cell and, when the new row's updated_at is not after the as-of, its
-- new one), deleted (a void, retention), or inserted with an updated_at not after the as-of.
-- Written by the triggers below, drained by the next maintenance (which recomputes them).
-- (Named after learning_events so that erasure, which deletes a learner's rows table by table
-- in name order, empties it after learning_events, whose deletion the trigger records.)
CREATE TABLE learning_events_rollup_dirty (
  user_id text NOT NULL,
  day     date NOT NULL,
  PRIMARY KEY (user_id, day)
);
CREATE FUNCTION learner_daily_activity_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO learning_events_rollup_dirty (user_id, day)
    SELECT DISTINCT o.user_id, ((o.occurred_at AT TIME ZONE 'UTC') - interval '1 microsecond')::date
    FROM old_rows o
    ON CONFLICT DO NOTHING;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO learning_events_rollup_dirty (user_id, day)
    SELECT DISTINCT n.user_id, ((n.occurred_at AT TIME ZONE 'UTC') - interval '1 microsecond')::date
    FROM new_rows n
    WHERE n.updated_at <= (SELECT asof FROM learner_daily_activity_asof)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
-- the pipeline's, like every volatile function (0006): authenticated cannot call it
REVOKE EXECUTE ON FUNCTION learner_daily_activity_mark_dirty() FROM PUBLIC;
CREATE TRIGGER learning_events_rollup_insert AFTER INSERT ON learning_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION learner_daily_activity_mark_dirty();
CREATE TRIGGER learning_events_rollup_update AFTER UPDATE ON learning_events
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION learner_daily_activity_mark_dirty();
CREATE TRIGGER learning_events_rollup_delete AFTER DELETE ON learning_events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION learner_daily_activity_mark_dirty();

-- The nightly finds the events ingested since the rollup's as-of by their ingestion time
-- (and velocity's rewind, the events not known at T, by the same index).
CREATE INDEX idx_learning_events_updated ON learning_events(updated_at);

-- erasure and row-level security cover it like every per-learner table (0012's list + this one)
ALTER FUNCTION per_learner_tables() RENAME TO per_learner_tables_0012;
CREATE FUNCTION per_learner_tables() RETURNS TABLE(table_name text, learner_column text) LANGUAGE sql IMMUTABLE AS $$
  SELECT * FROM per_learner_tables_0012()
  UNION ALL VALUES ('learner_daily_activity', 'user_id'), ('learning_events_rollup_dirty', 'user_id')
$$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['learner_daily_activity', 'learning_events_rollup_dirty'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY user_own_analytics ON %I FOR SELECT TO authenticated USING (user_id = (SELECT app_current_user_id()))', t);
    EXECUTE format('CREATE POLICY trainer_student_analytics ON %I FOR SELECT TO authenticated USING (user_id IN (SELECT app_trainer_student_ids()))', t);
    EXECUTE format('CREATE POLICY org_admin_analytics ON %I FOR SELECT TO authenticated USING (user_id IN (SELECT app_org_member_ids()))', t);
  END LOOP;
END $$;

-- grants of the new tables as for every governed relation (0006)
DO $$ BEGIN PERFORM governance_enforce_access(); END $$;
