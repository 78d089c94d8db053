-- Engagement's sessions in the learner daily activity rollup (issue 18): per learner and UTC day
-- (bin (day, day + 1], as learner_daily_activity), the sessions of the events of that bin alone
-- ("session parts": a new part when the gap to the previous event is more than the session
-- gap). A session of the whole history is a run of parts where each part's first event follows
-- the previous part's last event by at most the gap, so engagement stitches its sessions from
-- the parts of its 56 days exactly (analytics/engagement.py: stitch) instead of re-reading the
-- raw events every night.
--
-- Maintained with learner_daily_activity in the same statement (same as-of, same stale cells:
-- sql/queries/learner_analytics/daily_activity_build.sql / daily_activity_update.sql); the gap
-- the parts were cut with is recorded beside the as-of (session_gap): a reader whose gap differs
-- reads the raw events, and a maintenance whose gap differs (or finds none: a rollup built
-- before this migration) rebuilds both tables.
CREATE TABLE learner_daily_sessions (
  user_id       text NOT NULL,
  day           date NOT NULL,
  start_at      timestamptz NOT NULL,          -- first event of the part
  last_at       timestamptz NOT NULL,          -- last event of the part
  last_duration double precision NOT NULL,     -- that event's duration_seconds (null = 0; the
                                               -- largest among events at last_at)
  events        integer NOT NULL,
  PRIMARY KEY (user_id, day, start_at)
);
CREATE INDEX idx_learner_daily_sessions_day ON learner_daily_sessions(day);
COMMENT ON TABLE learner_daily_sessions IS
  'Per learner and UTC day (bin (day, day+1]): the sessions of that day''s events known at learner_daily_activity_asof.asof, cut at the day bin (session gap: learner_daily_activity_asof.session_gap). Engagement stitches its sessions from them (issue 18). Retained 90 days; erased with the learner.';

-- the session gap the parts were cut with (NULL: not built yet)
ALTER TABLE learner_daily_activity_asof ADD COLUMN session_gap interval;

-- erasure and row-level security cover it like every per-learner table (0014's list + this one),
-- and its grants are those of every governed relation (0006)
ALTER FUNCTION per_learner_tables() RENAME TO per_learner_tables_0014;
CREATE FUNCTION per_learner_tables() RETURNS TABLE(table_name text, learner_column text) LANGUAGE sql IMMUTABLE
  AS $$ SELECT * FROM per_learner_tables_0014() UNION ALL VALUES ('learner_daily_sessions', 'user_id') $$;
ALTER TABLE learner_daily_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_own_analytics ON learner_daily_sessions FOR SELECT TO authenticated USING (user_id = (SELECT app_current_user_id()));
CREATE POLICY trainer_student_analytics ON learner_daily_sessions FOR SELECT TO authenticated USING (user_id IN (SELECT app_trainer_student_ids()));
CREATE POLICY org_admin_analytics ON learner_daily_sessions FOR SELECT TO authenticated USING (user_id IN (SELECT app_org_member_ids()));
DO $$ BEGIN PERFORM governance_enforce_access(); END $$;
