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

-- Learners whose input rows were deleted (row-level /v1/deletions, catalog cascades, retention):
-- a deleted row leaves no updated_at behind. deleted_xid tells whether a snapshot run saw the
-- deletion. The learners of a pending erasure are not logged (their rows go everywhere, this
-- table included: erase_learners deletes from every table with a user_id).
CREATE TABLE learner_input_deletions (
  user_id      text        NOT NULL,
  source_table text        NOT NULL,
  deleted_xid  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  deleted_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_learner_input_deletions_at ON learner_input_deletions(deleted_at);

CREATE FUNCTION log_learner_input_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO learner_input_deletions (user_id, source_table)
  SELECT DISTINCT o.user_id, TG_TABLE_NAME::text FROM old_rows o
  WHERE NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.user_id = o.user_id AND e.processed_at IS NULL);
  RETURN NULL;
END $$;

CREATE TRIGGER user_skills_deletions AFTER DELETE ON user_skills REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER enrollments_deletions AFTER DELETE ON enrollments REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER assessment_results_deletions AFTER DELETE ON assessment_results REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
