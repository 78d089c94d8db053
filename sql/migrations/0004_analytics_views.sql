-- Current views of the six learner-analytics tables: each learner's latest snapshot that
-- has not expired. security_invoker: the view runs with the privileges (and row-level
-- security policies) of the querying role, so the RLS that governance puts on the base
-- tables also applies through the view (a default view would run as its owner and bypass it).
-- Served by the (user_id, calculated_at) unique index of each table.

CREATE OR REPLACE VIEW learner_velocity_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, current_pace, target_pace, trend_direction, trend_percentage, status, estimated_completion, calculated_at, expires_at
FROM learner_velocity_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;

CREATE OR REPLACE VIEW skill_gap_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, total_gaps, critical_gaps, gaps, top_priority, calculated_at, expires_at
FROM skill_gap_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;

CREATE OR REPLACE VIEW engagement_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, overall_score, trend, sessions_per_week, avg_session_duration, last_active, engagement_by_type, weekly_trend, calculated_at, expires_at
FROM engagement_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;

CREATE OR REPLACE VIEW mastery_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, mastered_skills, in_progress_skills, skills, mastery_distribution, calculated_at, expires_at
FROM mastery_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;

CREATE OR REPLACE VIEW performance_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, avg_score, trend, assessments_taken, pass_rate, performance_by_skill, recent_scores, calculated_at, expires_at
FROM performance_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;

CREATE OR REPLACE VIEW content_effectiveness_analytics_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (user_id)
       id, user_id, most_effective, least_effective, recommendations, calculated_at, expires_at
FROM content_effectiveness_analytics
WHERE expires_at > now()
ORDER BY user_id, calculated_at DESC;
