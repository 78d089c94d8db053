-- Content effectiveness' evidence in the learner daily activity rollup (issue 18): per learner,
-- content item and UTC day (bin (day, day + 1], as learner_daily_activity), the first and last
-- instant of the events on that item, and of its completions. Content effectiveness asks of a
-- learner and an item only whether an event (a completion) lies in a window of at least a day:
-- [t - 14 d, t] around a result, (T - 28 d, T] of use, "ever" (at or before T). Such a window
-- covers whole bins between its ends; in the bin of its start an event lies in it iff the bin's
-- last instant is at or after the start, in the bin of its end iff the bin's first instant is at
-- or before the end. So these four instants per cell answer every such question exactly as the
-- raw events do, and the nightly reads them instead of re-reading 104 days of raw events
-- (analytics/store.py: effect_reads_for, sql/queries/learner_analytics/effect_rollup_events.sql).
--
-- Maintained with learner_daily_activity in the same statement (same as-of, same stale cells:
-- daily_activity_build.sql / daily_activity_update.sql). One day more than the other rollup
-- tables is kept: the raw retention keeps events at or after T - 90 d, and an event at exactly
-- that midnight ends the bin of the day before (the reader keeps only instants >= T - 90 d).
-- A rollup built before this migration has item_use = false: the next maintenance rebuilds it.
CREATE TABLE learner_daily_item_use (
  user_id            text NOT NULL,
  content_id         text NOT NULL,
  day                date NOT NULL,
  first_at           timestamptz NOT NULL,   -- first / last occurred_at of the cell's events
  last_at            timestamptz NOT NULL,
  first_completed_at timestamptz,            -- of its 'completed' events (NULL: none)
  last_completed_at  timestamptz,
  -- day first: the one index serves the maintenance's (learner, day) cells and its removal of
  -- the days past retention (a second index on day cost the first build ~2 s at M)
  PRIMARY KEY (day, user_id, content_id)
);
COMMENT ON TABLE learner_daily_item_use IS
  'Per learner x content item x UTC day (bin (day, day+1]): first/last occurred_at of the events known at learner_daily_activity_asof.asof, and of the completions; content effectiveness reads its evidence from it (issue 18). Retained 91 days; erased with the learner.';

-- whether the item cells were built with the rollup (false: rebuilt by the next maintenance)
ALTER TABLE learner_daily_activity_asof ADD COLUMN item_use boolean NOT NULL DEFAULT false;

-- erasure and row-level security cover it like every per-learner table (0018's list + this one),
-- and its grants are those of every governed relation (0006)
ALTER FUNCTION per_learner_tables() RENAME TO per_learner_tables_0018;
CREATE FUNCTION per_learner_tables() RETURNS TABLE(table_name text, learner_column text) LANGUAGE sql IMMUTABLE
  AS $$ SELECT * FROM per_learner_tables_0018() UNION ALL VALUES ('learner_daily_item_use', 'user_id') $$;
ALTER TABLE learner_daily_item_use ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_own_analytics ON learner_daily_item_use FOR SELECT TO authenticated USING (user_id = (SELECT app_current_user_id()));
CREATE POLICY trainer_student_analytics ON learner_daily_item_use FOR SELECT TO authenticated USING (user_id IN (SELECT app_trainer_student_ids()));
CREATE POLICY org_admin_analytics ON learner_daily_item_use FOR SELECT TO authenticated USING (user_id IN (SELECT app_org_member_ids()));
DO $$ BEGIN PERFORM governance_enforce_access(); END $$;
