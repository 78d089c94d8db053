-- Incremental user_points (issue 18, gamification/store.py update_user_points): a run recomputes
-- only the learners whose ledger or daily activity changed since the last run (plus those whose
-- streak the passing time can end), found through learner_input_changes (0013) and the
-- transaction snapshot the last run recorded.
--
-- Inserts are logged by the pipeline's two writers themselves, in the inserting statement
-- (insert_item_awards.sql, insert_day_awards.sql, daily_activity_upsert.sql: one row per learner):
-- a statement trigger's transition table would hold every row of the first run's 4.5M-award
-- catch-up. Updates and deletions by anyone (retention's archiving and deletion, a hand fix) are
-- logged by the statement triggers below; the learners of a pending erasure are not logged
-- (log_learner_input_deletions, 0013: their rows go everywhere, this log included).
CREATE FUNCTION log_learner_input_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO learner_input_changes (user_id, source_table, change)
  SELECT u.user_id, TG_TABLE_NAME::text, 'updated'
  FROM (SELECT o.user_id FROM old_rows o UNION SELECT n.user_id FROM new_rows n) u;
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION log_learner_input_updates() FROM PUBLIC;

CREATE TRIGGER point_transactions_deletions AFTER DELETE ON point_transactions REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER point_transactions_updates AFTER UPDATE ON point_transactions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_updates();
CREATE TRIGGER daily_activity_deletions AFTER DELETE ON daily_activity REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_deletions();
CREATE TRIGGER daily_activity_updates AFTER UPDATE ON daily_activity
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION log_learner_input_updates();
