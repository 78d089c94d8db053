-- Gamification: fixes of the seed's leaderboards and aggregates, and what the ledger assets need.
-- (docs/gamification.md explains every choice.)
--
-- 1. Leaderboards re-created so they honour user_preferences.leaderboard_privacy:
--    `hidden` learners are left out; `anonymous` ones are ranked with no identity at all
--    (user_id, display name and avatar are NULL / 'Anonymous learner'). The unique key for
--    REFRESH ... CONCURRENTLY is `entry_id`, an opaque md5 of a secret salt, the board, the
--    period and the learner: stable within a period, different on the weekly and monthly
--    boards and from one period to the next, so an anonymous entry cannot be followed across
--    boards or weeks. The week/month boundaries are computed in UTC (the seed used the
--    refreshing session's time zone).
-- 2. peer_comparison_aggregates (0001's fix kept: latest unexpired snapshot, one competency
--    level per learner, k from k_anonymity()), plus: avg_score is published only when at least
--    k learners of the group have a performance snapshot (otherwise one learner's score could
--    be read off a group of k velocity snapshots); score_sample_size says how many.
-- 3. skill_demand_aggregates (0001's fix kept: no NULL month, cells under k withheld), plus:
--    months are cut in UTC (date_trunc on timestamptz used the session's time zone), and
--    growth_rate compares with the previous *calendar* month only (LAG over published rows
--    skipped withheld or empty months and called the result month-on-month).
-- 4. daily_activity.first_activity_at (the instant the local day became active: the timestamp
--    of the daily award and of streak achievements), indexes for the nightly window reads.

-- ═══════════════ salt of the leaderboards' opaque entry ids ═══════════════
INSERT INTO pipeline_settings (key, value) VALUES ('leaderboard_salt', to_jsonb(gen_random_uuid()::text))
ON CONFLICT (key) DO NOTHING;

CREATE FUNCTION leaderboard_entry_id(p_board text, p_period_start date, p_user_id text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT md5((SELECT value #>> '{}' FROM pipeline_settings WHERE key = 'leaderboard_salt')
             || ':' || p_board || ':' || to_char(p_period_start, 'YYYY-MM-DD') || ':' || p_user_id)
$$;
-- Whoever can call it with any user id can re-identify anonymous entries: the pipeline (owner)
-- only. A dashboard finds the signed-in learner's own entry through a wrapper bound to
-- auth.uid() (governance), never through this function.
REVOKE EXECUTE ON FUNCTION leaderboard_entry_id(text, date, text) FROM PUBLIC;

-- IANA zone of each organisation (settings->>'timezone'); unknown, malformed or missing: UTC.
CREATE FUNCTION organization_timezones() RETURNS TABLE(organization_id text, tz text)
LANGUAGE sql STABLE AS $$
  SELECT o.id, coalesce(z.name, 'UTC')
  FROM organizations o
  LEFT JOIN (SELECT DISTINCT name FROM pg_timezone_names) z
    ON z.name = CASE WHEN jsonb_typeof(o.settings) = 'object' THEN o.settings ->> 'timezone' END
$$;

-- ═══════════════ leaderboards ═══════════════
DROP MATERIALIZED VIEW leaderboard_weekly;
DROP MATERIALIZED VIEW leaderboard_monthly;

CREATE MATERIALIZED VIEW leaderboard_weekly AS
WITH period AS (
  SELECT date_trunc('week', now() AT TIME ZONE 'UTC')::date AS period_start
), totals AS (
  SELECT pt.user_id, SUM(pt.points)::bigint AS points
  FROM point_transactions pt, period
  WHERE pt."timestamp" >= (period.period_start::timestamp AT TIME ZONE 'UTC')
  GROUP BY pt.user_id
), visible AS (
  SELECT t.user_id, t.points, coalesce(p.leaderboard_privacy, 'public') AS privacy,
         u.full_name, u.avatar_url
  FROM totals t
  JOIN users u ON u.id = t.user_id
  LEFT JOIN user_preferences p ON p.user_id = t.user_id
  WHERE coalesce(p.leaderboard_privacy, 'public') <> 'hidden'
)
SELECT leaderboard_entry_id('weekly', period.period_start, v.user_id) AS entry_id,
       RANK() OVER (ORDER BY v.points DESC) AS rank,
       v.points AS weekly_points,
       CASE WHEN v.privacy = 'public' THEN v.user_id END AS user_id,
       CASE WHEN v.privacy = 'public' THEN coalesce(nullif(btrim(v.full_name), ''), 'Learner')
            ELSE 'Anonymous learner' END AS display_name,
       CASE WHEN v.privacy = 'public' THEN v.avatar_url END AS avatar_url,
       v.privacy <> 'public' AS is_anonymous,
       period.period_start
FROM visible v, period;
CREATE UNIQUE INDEX uidx_leaderboard_weekly_entry ON leaderboard_weekly(entry_id);
CREATE INDEX idx_leaderboard_weekly_rank ON leaderboard_weekly(rank);
CREATE INDEX idx_leaderboard_weekly_user ON leaderboard_weekly(user_id);

CREATE MATERIALIZED VIEW leaderboard_monthly AS
WITH period AS (
  SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date AS period_start
), totals AS (
  SELECT pt.user_id, SUM(pt.points)::bigint AS points
  FROM point_transactions pt, period
  WHERE pt."timestamp" >= (period.period_start::timestamp AT TIME ZONE 'UTC')
  GROUP BY pt.user_id
), visible AS (
  SELECT t.user_id, t.points, coalesce(p.leaderboard_privacy, 'public') AS privacy,
         u.full_name, u.avatar_url
  FROM totals t
  JOIN users u ON u.id = t.user_id
  LEFT JOIN user_preferences p ON p.user_id = t.user_id
  WHERE coalesce(p.leaderboard_privacy, 'public') <> 'hidden'
)
SELECT leaderboard_entry_id('monthly', period.period_start, v.user_id) AS entry_id,
       RANK() OVER (ORDER BY v.points DESC) AS rank,
       v.points AS monthly_points,
       CASE WHEN v.privacy = 'public' THEN v.user_id END AS user_id,
       CASE WHEN v.privacy = 'public' THEN coalesce(nullif(btrim(v.full_name), ''), 'Learner')
            ELSE 'Anonymous learner' END AS display_name,
       CASE WHEN v.privacy = 'public' THEN v.avatar_url END AS avatar_url,
       v.privacy <> 'public' AS is_anonymous,
       period.period_start
FROM visible v, period;
CREATE UNIQUE INDEX uidx_leaderboard_monthly_entry ON leaderboard_monthly(entry_id);
CREATE INDEX idx_leaderboard_monthly_rank ON leaderboard_monthly(rank);
CREATE INDEX idx_leaderboard_monthly_user ON leaderboard_monthly(user_id);

-- ═══════════════ peer comparison ═══════════════
DROP MATERIALIZED VIEW peer_comparison_aggregates;
CREATE MATERIALIZED VIEW peer_comparison_aggregates AS
WITH latest_velocity AS (
  SELECT DISTINCT ON (user_id) user_id, current_pace
  FROM learner_velocity_analytics WHERE expires_at > now()
  ORDER BY user_id, calculated_at DESC
), latest_performance AS (
  SELECT DISTINCT ON (user_id) user_id, avg_score
  FROM performance_analytics WHERE expires_at > now()
  ORDER BY user_id, calculated_at DESC
), learner_level AS (
  SELECT u.id AS user_id, u.organization_id,
         CASE WHEN coalesce(avg(us.mastery_level), 0) < 30 THEN 'beginner'
              WHEN coalesce(avg(us.mastery_level), 0) < 70 THEN 'intermediate'
              ELSE 'advanced' END AS competency_level
  FROM users u LEFT JOIN user_skills us ON us.user_id = u.id
  WHERE u.organization_id IS NOT NULL
  GROUP BY u.id, u.organization_id
)
SELECT l.organization_id,
       l.competency_level,
       AVG(lv.current_pace)::numeric(7,2) AS avg_velocity,
       (PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY lv.current_pace))::numeric(7,2) AS median_velocity,
       CASE WHEN COUNT(pa.avg_score) >= k_anonymity() THEN AVG(pa.avg_score)::numeric(7,2) END AS avg_score,
       COUNT(*) AS sample_size,
       COUNT(pa.avg_score) AS score_sample_size
FROM learner_level l
JOIN latest_velocity lv ON lv.user_id = l.user_id
LEFT JOIN latest_performance pa ON pa.user_id = l.user_id
GROUP BY l.organization_id, l.competency_level
HAVING COUNT(*) >= k_anonymity();
CREATE UNIQUE INDEX idx_peer_comparison_org_level ON peer_comparison_aggregates(organization_id, competency_level);

-- ═══════════════ skill demand ═══════════════
DROP MATERIALIZED VIEW skill_demand_aggregates;
CREATE MATERIALIZED VIEW skill_demand_aggregates AS
WITH cells AS (
  SELECT s.id AS skill_id, s.name AS skill_name,
         date_trunc('month', us.last_assessed_at, 'UTC') AS month,
         COUNT(DISTINCT us.user_id) AS learner_count,
         AVG(us.mastery_level)::numeric(7,2) AS avg_mastery
  FROM skills s JOIN user_skills us ON us.skill_id = s.id
  WHERE us.last_assessed_at IS NOT NULL
  GROUP BY s.id, s.name, date_trunc('month', us.last_assessed_at, 'UTC')
), with_previous AS (
  SELECT c.*, prev.learner_count AS previous_count, prev.learner_count >= k_anonymity() AS previous_published
  FROM cells c
  LEFT JOIN cells prev
    ON prev.skill_id = c.skill_id
   AND prev.month = (c.month AT TIME ZONE 'UTC' - interval '1 month') AT TIME ZONE 'UTC'
)
SELECT skill_id, skill_name, learner_count, avg_mastery, month,
       CASE WHEN previous_published
            THEN ((learner_count - previous_count) * 100.0 / previous_count)::numeric(9,2) END AS growth_rate
FROM with_previous
WHERE learner_count >= k_anonymity();
CREATE UNIQUE INDEX idx_skill_demand_skill_month ON skill_demand_aggregates(skill_id, month DESC);

-- ═══════════════ ledger support ═══════════════
ALTER TABLE daily_activity ADD COLUMN first_activity_at timestamptz;
CREATE INDEX idx_daily_activity_last ON daily_activity(last_activity_at);
CREATE INDEX idx_point_transactions_time ON point_transactions("timestamp");
CREATE INDEX idx_enrollments_completed ON enrollments(completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX idx_user_skills_assessed ON user_skills(last_assessed_at);
