-- Carry-forward of unchanged learner rows (issue 18, analytics/store.py).
--
-- analytics_snapshot_runs: one row per written snapshot (table, T), in the snapshot's own
-- transaction, so its presence means the snapshot of T is complete. fingerprint = the config and
-- code version, catalog_fingerprint = the catalogs read; read_snapshot = pg_current_snapshot() when
-- the run began: a change committed by a transaction not visible in it may be missing from the
-- snapshot's rows.
CREATE TABLE analytics_snapshot_runs (
  table_name          text        NOT NULL,
  calculated_at       timestamptz NOT NULL,
  path                text        NOT NULL CHECK (path IN ('full', 'carry')),
  fingerprint         text        NOT NULL,
  catalog_fingerprint text        NOT NULL,
  read_snapshot       pg_snapshot NOT NULL,
  rows                bigint      NOT NULL,
  learners_recomputed bigint      NOT NULL,
  learners_carried    bigint      NOT NULL,
  written_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, calculated_at)
);

-- Learners whose input rows changed in a way a snapshot may not have seen: every deleted row of
-- user_skills, enrollments, assessment_results (row-level /v1/deletions, catalog cascades,
-- retention: a deleted row leaves no updated_at behind), and the enrollments inserted or updated in
-- the columns that make an enrollment active (a progress update is not logged: the carried
-- categories read enrollments only as the set active at T). changed_xid tells whether a snapshot
-- run saw the change. The learners of a pending erasure are not logged (their rows go everywhere,
-- this table included: erase_learners deletes from every table with a user_id).
CREATE TABLE learner_input_changes (
  user_id      text        NOT NULL,
  source_table text        NOT NULL,
  change       text        NOT NULL CHECK (change IN ('inserted', 'updated', 'deleted')),
  changed_xid  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  changed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_learner_input_changes_at ON learner_input_changes(changed_at);

CREATE FUNCTION log_learner_input_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT DISTINCT o.user_id, TG_TABLE_NAME::text, 'deleted' FROM old_rows o
  WHERE NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.user_id = o.user_id AND e.processed_at IS NULL);
  RETURN NULL;
END $$;

CREATE FUNCTION log_enrollment_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT DISTINCT n.user_id, 'enrollments', 'inserted' FROM new_rows n;
  RETURN NULL;
END $$;

CREATE FUNCTION log_enrollment_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT DISTINCT u.user_id, 'enrollments', 'updated'
  FROM old_rows o JOIN new_rows n ON n.id = o.id
  CROSS JOIN LATERAL (VALUES (o.user_id), (n.user_id)) u(user_id)
  WHERE (o.user_id, o.course_id, o.enrolled_at, o.completed_at, o.withdrawn_at)
        IS DISTINCT FROM (n.user_id, n.course_id, n.enrolled_at, n.completed_at, n.withdrawn_at);
  RETURN NULL;
END $$;

CREATE TRIGGER user_skills_deletions AFTER DELETE ON user_skills REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER enrollments_deletions AFTER DELETE ON enrollments REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER assessment_results_deletions AFTER DELETE ON assessment_results REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER enrollments_inserts AFTER INSERT ON enrollments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_enrollment_inserts();
CREATE TRIGGER enrollments_updates AFTER UPDATE ON enrollments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_enrollment_updates();

-- the pipeline's functions (0006): only the owner fires them
REVOKE EXECUTE ON FUNCTION log_learner_input_deletions() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION log_enrollment_inserts() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION log_enrollment_updates() FROM PUBLIC;
