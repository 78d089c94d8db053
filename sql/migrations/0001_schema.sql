-- The seed's schema (shared/seed/database-architecture.md) with the deviations of docs/schema.md:
-- text ids, nullable password_hash, timestamptz, partitioned analytics tables, the raw-cache
-- tables the seed needs but does not list, and unique indexes on the materialized views.

-- ═══════════════ settings read by SQL (k-anonymity) ═══════════════
CREATE TABLE pipeline_settings (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pipeline_settings (key, value) VALUES ('k_anonymity', '10');

CREATE FUNCTION k_anonymity() RETURNS integer LANGUAGE sql STABLE AS
$$ SELECT greatest(5, coalesce((SELECT (value #>> '{}')::int FROM pipeline_settings WHERE key = 'k_anonymity'), 10)) $$;

-- ═══════════════ core entities ═══════════════
CREATE TABLE organizations (
  id         text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  name       text NOT NULL,
  domain     text,
  settings   jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id              text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  email           text NOT NULL UNIQUE,
  password_hash   text,              -- never filled: an analytics cache holds no credentials
  full_name       text,
  avatar_url      text,
  organization_id text REFERENCES organizations(id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_roles (
  id         text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('learner', 'trainer', 'org_admin', 'platform_admin')),
  granted_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, role)
);

-- ═══════════════ learning data cached from the LMS API ═══════════════
CREATE TABLE courses (
  id              text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  name            text NOT NULL,
  description     text,
  organization_id text,
  trainer_id      text,
  expected_weeks  integer,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE enrollments (
  id                   text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  user_id              text NOT NULL REFERENCES users(id),
  course_id            text NOT NULL REFERENCES courses(id),
  enrolled_at          timestamptz NOT NULL DEFAULT now(),
  completed_at         timestamptz,
  progress_percent     numeric(5,2) NOT NULL,
  target_completion_at timestamptz,
  withdrawn_at         timestamptz,
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'withdrawn')),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, course_id)
);

CREATE TABLE skills (
  id         text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  name       text NOT NULL,
  domain     text,
  level      text CHECK (level IN ('beginner', 'intermediate', 'advanced')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_skills (
  id               text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  user_id          text NOT NULL REFERENCES users(id),
  skill_id         text NOT NULL REFERENCES skills(id),
  mastery_level    numeric(5,2) NOT NULL CHECK (mastery_level BETWEEN 0 AND 100),
  last_assessed_at timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, skill_id)
);

-- Raw-cache tables the seed's analytics need but the seed does not list.
CREATE TABLE course_skills (
  course_id    text NOT NULL,
  skill_id     text NOT NULL,
  target_level numeric(5,2) NOT NULL CHECK (target_level BETWEEN 0 AND 100),
  PRIMARY KEY (course_id, skill_id)
);
CREATE INDEX idx_course_skills_skill ON course_skills(skill_id);

CREATE TABLE content_items (
  id               text PRIMARY KEY,
  course_id        text NOT NULL,
  title            text,
  content_type     text NOT NULL CHECK (content_type IN ('video', 'reading', 'quiz', 'exercise', 'project')),
  skill_ids        text[] NOT NULL DEFAULT '{}',
  duration_minutes numeric,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX idx_content_items_course ON content_items(course_id);

CREATE TABLE assessment_results (
  id            text PRIMARY KEY,
  user_id       text NOT NULL,
  course_id     text,
  assessment_id text NOT NULL,
  skill_id      text,
  score         numeric(5,2) NOT NULL CHECK (score BETWEEN 0 AND 100),
  passing_score numeric(5,2) NOT NULL CHECK (passing_score BETWEEN 0 AND 100),
  submitted_at  timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);
CREATE INDEX idx_assessment_results_user_time ON assessment_results(user_id, submitted_at);
CREATE INDEX idx_assessment_results_submitted ON assessment_results(submitted_at);

CREATE TABLE learning_events (
  id               text PRIMARY KEY,
  user_id          text NOT NULL,
  course_id        text,
  content_id       text,
  content_type     text CHECK (content_type IN ('video', 'reading', 'quiz', 'exercise', 'project')),
  event_type       text NOT NULL CHECK (event_type IN ('started', 'progressed', 'completed')),
  occurred_at      timestamptz NOT NULL,
  duration_seconds double precision,
  progress_delta   numeric(5,2),
  updated_at       timestamptz NOT NULL
);
CREATE INDEX idx_learning_events_user_time ON learning_events(user_id, occurred_at);
CREATE INDEX idx_learning_events_occurred ON learning_events(occurred_at);

CREATE TABLE extraction_watermarks (
  resource     text PRIMARY KEY,
  watermark    timestamptz,
  rows_loaded  bigint NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE quarantine (
  id             bigserial PRIMARY KEY,
  resource       text NOT NULL,
  source_id      text,
  reason         text NOT NULL,
  payload        text NOT NULL,
  run_id         text,
  quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_quarantine_resource_time ON quarantine(resource, quarantined_at DESC);

-- ═══════════════ learner analytics: partitioned by month on calculated_at ═══════════════
CREATE TABLE learner_velocity_analytics (
  id                   text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id              text NOT NULL REFERENCES users(id),
  current_pace         numeric(5,2) NOT NULL,
  target_pace          numeric(5,2) NOT NULL,
  trend_direction      text NOT NULL CHECK (trend_direction IN ('accelerating', 'stable', 'declining')),
  trend_percentage     numeric(5,2) NOT NULL,
  status               text NOT NULL,
  estimated_completion timestamptz,
  calculated_at        timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, calculated_at)
) PARTITION BY RANGE (calculated_at);

CREATE TABLE skill_gap_analytics (
  id            text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id       text NOT NULL REFERENCES users(id),
  total_gaps    integer NOT NULL,
  critical_gaps integer NOT NULL,
  gaps          jsonb NOT NULL,
  top_priority  jsonb,
  calculated_at timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, calculated_at)
) PARTITION BY RANGE (calculated_at);

CREATE TABLE engagement_analytics (
  id                   text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id              text NOT NULL REFERENCES users(id),
  overall_score        integer NOT NULL,
  trend                text NOT NULL,
  sessions_per_week    numeric(5,2) NOT NULL,
  avg_session_duration integer NOT NULL,
  last_active          timestamptz NOT NULL,
  engagement_by_type   jsonb NOT NULL,
  weekly_trend         jsonb NOT NULL,
  calculated_at        timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, calculated_at)
) PARTITION BY RANGE (calculated_at);

CREATE TABLE mastery_analytics (
  id                   text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id              text NOT NULL REFERENCES users(id),
  mastered_skills      integer NOT NULL,
  in_progress_skills   integer NOT NULL,
  skills               jsonb NOT NULL,
  mastery_distribution jsonb NOT NULL,
  calculated_at        timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, calculated_at)
) PARTITION BY RANGE (calculated_at);

CREATE TABLE performance_analytics (
  id                   text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id              text NOT NULL REFERENCES users(id),
  avg_score            numeric(5,2) NOT NULL,
  trend                text NOT NULL,
  assessments_taken    integer NOT NULL,
  pass_rate            numeric(5,2) NOT NULL,
  performance_by_skill jsonb NOT NULL,
  recent_scores        jsonb NOT NULL,
  calculated_at        timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, calculated_at)
) PARTITION BY RANGE (calculated_at);

CREATE TABLE content_effectiveness_analytics (
  id              text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id         text NOT NULL REFERENCES users(id),
  most_effective  jsonb NOT NULL,
  least_effective jsonb NOT NULL,
  recommendations jsonb NOT NULL,
  calculated_at   timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, calculated_at)
) PARTITION BY RANGE (calculated_at);

-- ═══════════════ gamification ═══════════════
CREATE TABLE user_points (
  user_id        text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  total_points   integer NOT NULL DEFAULT 0,
  current_level  integer NOT NULL DEFAULT 1,
  current_streak integer NOT NULL DEFAULT 0,
  longest_streak integer NOT NULL DEFAULT 0,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE point_transactions (
  id            text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  user_id       text NOT NULL REFERENCES users(id),
  points        integer NOT NULL,
  activity_type text NOT NULL,
  metadata      jsonb,
  "timestamp"   timestamptz NOT NULL DEFAULT now(),
  source_id     text NOT NULL,   -- origin of the award: with activity_type, unique (never awarded twice)
  UNIQUE (activity_type, source_id)
);

CREATE TABLE achievements (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL,
  icon        text NOT NULL,
  tier        text NOT NULL CHECK (tier IN ('beginner', 'intermediate', 'advanced', 'elite')),
  criteria    jsonb NOT NULL
);

CREATE TABLE user_achievements (
  id             text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  user_id        text NOT NULL REFERENCES users(id),
  achievement_id text NOT NULL REFERENCES achievements(id),
  earned_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, achievement_id)
);

CREATE TABLE daily_activity (
  id               text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  user_id          text NOT NULL REFERENCES users(id),
  date             date NOT NULL,
  last_activity_at timestamptz NOT NULL,
  UNIQUE (user_id, date)
);

-- ═══════════════ predictive cache (partitioned like the analytics) ═══════════════
CREATE TABLE predictive_analytics_cache (
  id               text NOT NULL DEFAULT gen_random_uuid()::text,
  user_id          text NOT NULL REFERENCES users(id),
  analytics_type   text NOT NULL CHECK (analytics_type IN ('drop_off_risk', 'forecast', 'recommendations')),
  data             jsonb NOT NULL,
  confidence_score numeric(5,2),
  calculated_at    timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (id, calculated_at),
  UNIQUE (user_id, analytics_type, calculated_at)
) PARTITION BY RANGE (calculated_at);

-- ═══════════════ preferences ═══════════════
CREATE TABLE user_preferences (
  user_id                      text PRIMARY KEY REFERENCES users(id),
  leaderboard_privacy          text NOT NULL DEFAULT 'public' CHECK (leaderboard_privacy IN ('public', 'anonymous', 'hidden')),
  predictive_analytics_enabled jsonb NOT NULL DEFAULT '{"dropOffRisk": true, "forecasting": true, "recommendations": true}',
  notification_preferences     jsonb,
  updated_at                   timestamptz NOT NULL DEFAULT now()
);

-- ═══════════════ indexing strategy (seed) ═══════════════
CREATE INDEX idx_users_organization ON users(organization_id);
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_user_roles_user ON user_roles(user_id);
CREATE INDEX idx_courses_organization ON courses(organization_id);
CREATE INDEX idx_courses_trainer ON courses(trainer_id);
CREATE INDEX idx_enrollments_user ON enrollments(user_id);
CREATE INDEX idx_enrollments_course ON enrollments(course_id);
CREATE INDEX idx_user_skills_user ON user_skills(user_id);
CREATE INDEX idx_user_skills_skill ON user_skills(skill_id);

CREATE INDEX idx_learner_velocity_user ON learner_velocity_analytics(user_id);
CREATE INDEX idx_learner_velocity_calculated ON learner_velocity_analytics(calculated_at DESC);
CREATE INDEX idx_skill_gap_user ON skill_gap_analytics(user_id);
CREATE INDEX idx_engagement_user ON engagement_analytics(user_id);
CREATE INDEX idx_mastery_user ON mastery_analytics(user_id);
CREATE INDEX idx_performance_user ON performance_analytics(user_id);
CREATE INDEX idx_content_user ON content_effectiveness_analytics(user_id);
CREATE INDEX idx_predictive_cache_user ON predictive_analytics_cache(user_id);

CREATE INDEX idx_point_transactions_user_time ON point_transactions(user_id, "timestamp" DESC);
CREATE INDEX idx_user_achievements_user ON user_achievements(user_id);
CREATE INDEX idx_daily_activity_user_date ON daily_activity(user_id, date DESC);

CREATE INDEX idx_users_org_created ON users(organization_id, created_at DESC);
CREATE INDEX idx_user_points_points ON user_points(total_points DESC);

-- ═══════════════ monthly partitions, created ahead automatically ═══════════════
CREATE FUNCTION ensure_monthly_partitions(p_parent text, p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', p_from AT TIME ZONE 'UTC')::date;
  last_month date := date_trunc('month', p_to AT TIME ZONE 'UTC')::date;
  part text;
  created integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('ensure_monthly_partitions:' || p_parent));
  WHILE m <= last_month LOOP
    part := format('%s_%s', p_parent, to_char(m, 'YYYY_MM'));
    IF to_regclass(part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        part, p_parent,
        (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

CREATE FUNCTION partitioned_snapshot_tables() RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
  VALUES ('learner_velocity_analytics'), ('skill_gap_analytics'), ('engagement_analytics'),
         ('mastery_analytics'), ('performance_analytics'), ('content_effectiveness_analytics'),
         ('predictive_analytics_cache')
$$;

-- Partitions for every snapshot table from p_from's month through p_months_ahead months after p_to.
CREATE FUNCTION ensure_snapshot_partitions(p_from timestamptz, p_to timestamptz DEFAULT now(), p_months_ahead integer DEFAULT 2)
RETURNS integer LANGUAGE sql AS $$
  SELECT coalesce(sum(ensure_monthly_partitions(t, p_from, p_to + make_interval(months => p_months_ahead))), 0)::integer
  FROM partitioned_snapshot_tables() AS t
$$;

DO $$ BEGIN PERFORM ensure_snapshot_partitions(now() - interval '3 months'); END $$;

-- ═══════════════ materialized views (each with a unique index for REFRESH CONCURRENTLY) ═══════════════
CREATE MATERIALIZED VIEW leaderboard_weekly AS
SELECT user_id, SUM(points)::bigint AS weekly_points, RANK() OVER (ORDER BY SUM(points) DESC) AS rank
FROM point_transactions
WHERE "timestamp" >= date_trunc('week', now())
GROUP BY user_id;
CREATE UNIQUE INDEX uidx_leaderboard_weekly_user ON leaderboard_weekly(user_id);
CREATE INDEX idx_leaderboard_weekly_rank ON leaderboard_weekly(rank);

CREATE MATERIALIZED VIEW leaderboard_monthly AS
SELECT user_id, SUM(points)::bigint AS monthly_points, RANK() OVER (ORDER BY SUM(points) DESC) AS rank
FROM point_transactions
WHERE "timestamp" >= date_trunc('month', now())
GROUP BY user_id;
CREATE UNIQUE INDEX uidx_leaderboard_monthly_user ON leaderboard_monthly(user_id);
CREATE INDEX idx_leaderboard_monthly_rank ON leaderboard_monthly(rank);

-- Peer groups: each learner's latest unexpired snapshot, one competency level per learner
-- (from their mean mastery), published only for groups of at least k learners.
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
       AVG(pa.avg_score)::numeric(7,2) AS avg_score,
       COUNT(*) AS sample_size
FROM learner_level l
JOIN latest_velocity lv ON lv.user_id = l.user_id
LEFT JOIN latest_performance pa ON pa.user_id = l.user_id
GROUP BY l.organization_id, l.competency_level
HAVING COUNT(*) >= k_anonymity();
CREATE UNIQUE INDEX idx_peer_comparison_org_level ON peer_comparison_aggregates(organization_id, competency_level);

-- Skill demand: learners per skill and month of assessment; cells under k are not published.
CREATE MATERIALIZED VIEW skill_demand_aggregates AS
WITH cells AS (
  SELECT s.id AS skill_id, s.name AS skill_name,
         date_trunc('month', us.last_assessed_at) AS month,
         COUNT(DISTINCT us.user_id) AS learner_count,
         AVG(us.mastery_level)::numeric(7,2) AS avg_mastery
  FROM skills s JOIN user_skills us ON us.skill_id = s.id
  WHERE us.last_assessed_at IS NOT NULL
  GROUP BY s.id, s.name, date_trunc('month', us.last_assessed_at)
), published AS (
  SELECT * FROM cells WHERE learner_count >= k_anonymity()
)
SELECT skill_id, skill_name, learner_count, avg_mastery, month,
       ((learner_count - LAG(learner_count) OVER w) * 100.0 / NULLIF(LAG(learner_count) OVER w, 0))::numeric(9,2) AS growth_rate
FROM published
WINDOW w AS (PARTITION BY skill_id ORDER BY month);
CREATE UNIQUE INDEX idx_skill_demand_skill_month ON skill_demand_aggregates(skill_id, month DESC);

-- ═══════════════ seed data: skills (achievements: 0002) ═══════════════
INSERT INTO skills (id, name, domain, level) VALUES
  ('skill-react', 'React', 'frontend', 'intermediate'),
  ('skill-node', 'Node.js', 'backend', 'intermediate'),
  ('skill-sql', 'SQL', 'data', 'beginner'),
  ('skill-python', 'Python', 'backend', 'beginner'),
  ('skill-kubernetes', 'Kubernetes', 'devops', 'advanced')
ON CONFLICT (id) DO NOTHING;
