-- Analytic truth (issue 15): what a learner-analytics table publishes is a measurement or NULL.
--
-- 1. performance_analytics: avg_score, pass_rate and trend are NULL for a learner without a
--    result in the window (they were 0 / 0 / 'stable', and peer_comparison_aggregates averaged
--    those zeros; its COUNT(avg_score) now counts only learners who have a score, so the k rule
--    for the score is the right one without changing the view).
-- 2. learner_velocity_analytics.target_pace: numeric(16,2) (was numeric(5,2)): the pace needed
--    with the real time left (100 points in the last microsecond is 6.05e13 points a week) fits;
--    the value is no longer clipped to make it fit. The current view is recreated around it.
-- 3. engagement_analytics.last_active: NULL for a learner without any activity (was their
--    enrollment time).
-- 4. learner_activity_summary: per learner, the activity facts that must outlive the raw rows
--    retention deletes (first / last learning event and assessment result, and how many rows
--    were retired). Maintained by the pipeline (asset learner_activity_summary, before the
--    nightly's retention): it folds in the rows older than the retention cutoff once each
--    (watermark learner_activity_summary_through). Retention does not touch it;
--    erasure does (per_learner_tables). learner_activity_lifetime combines it with the rows
--    still retained.

ALTER TABLE performance_analytics ALTER COLUMN avg_score DROP NOT NULL,
                                  ALTER COLUMN pass_rate DROP NOT NULL,
                                  ALTER COLUMN trend DROP NOT NULL;

ALTER TABLE engagement_analytics ALTER COLUMN last_active DROP NOT NULL;

DROP VIEW learner_velocity_analytics_current;
ALTER TABLE learner_velocity_analytics ALTER COLUMN target_pace TYPE numeric(16,2);
CREATE VIEW learner_velocity_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, current_pace, target_pace, trend_direction, trend_percentage, status, estimated_completion, calculated_at, expires_at
FROM learner_velocity_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;

-- ═══════════════ the retained activity summary ═══════════════
CREATE TABLE learner_activity_summary (
  user_id          text PRIMARY KEY,
  first_event_at   timestamptz,
  last_event_at    timestamptz,
  events_retired   bigint NOT NULL DEFAULT 0,
  first_result_at  timestamptz,
  last_result_at   timestamptz,
  results_retired  bigint NOT NULL DEFAULT 0,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
-- How far the summary has folded (one row): rows occurred before it are in the summary.
CREATE TABLE learner_activity_summary_through (
  one      boolean PRIMARY KEY DEFAULT true CHECK (one),
  through  timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE learner_activity_summary IS
  'Per learner: first/last learning event and assessment result among the rows retention removed, and how many (issue 15). Not subject to retention; erased with the learner.';

-- Lifetime facts: the retired rows' summary plus the rows still retained.
CREATE VIEW learner_activity_lifetime WITH (security_invoker = true) AS
WITH ev AS (
  SELECT user_id, min(occurred_at) AS first_at, max(occurred_at) AS last_at, count(*) AS n
  FROM learning_events GROUP BY user_id
), res AS (
  SELECT user_id, min(submitted_at) AS first_at, max(submitted_at) AS last_at, count(*) AS n
  FROM assessment_results GROUP BY user_id
), learners AS (
  SELECT user_id FROM learner_activity_summary UNION SELECT user_id FROM ev UNION SELECT user_id FROM res
)
SELECT l.user_id,
       least(s.first_event_at, s.first_result_at, ev.first_at, res.first_at) AS first_activity_at,
       greatest(s.last_event_at, s.last_result_at, ev.last_at, res.last_at) AS last_activity_at,
       coalesce(s.events_retired, 0) + coalesce(ev.n, 0) AS learning_events,
       coalesce(s.results_retired, 0) + coalesce(res.n, 0) AS assessment_results
FROM learners l
LEFT JOIN learner_activity_summary s USING (user_id)
LEFT JOIN ev USING (user_id)
LEFT JOIN res USING (user_id);

-- erasure and row-level security cover it like every per-learner table (0006's list + this one)
ALTER FUNCTION per_learner_tables() RENAME TO per_learner_tables_0006;
CREATE FUNCTION per_learner_tables() RETURNS TABLE(table_name text, learner_column text) LANGUAGE sql IMMUTABLE AS $$
  SELECT * FROM per_learner_tables_0006()
  UNION ALL VALUES ('learner_activity_summary', 'user_id')
$$;
ALTER TABLE learner_activity_summary ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_own_analytics ON learner_activity_summary FOR SELECT TO authenticated
  USING (user_id = (SELECT app_current_user_id()));
CREATE POLICY trainer_student_analytics ON learner_activity_summary FOR SELECT TO authenticated
  USING (user_id IN (SELECT app_trainer_student_ids()));
CREATE POLICY org_admin_analytics ON learner_activity_summary FOR SELECT TO authenticated
  USING (user_id IN (SELECT app_org_member_ids()));

-- grants of the new table and view as for every governed relation (0006)
DO $$ BEGIN PERFORM governance_enforce_access(); END $$;
