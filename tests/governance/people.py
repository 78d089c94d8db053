"""A small cast for the governance tests: two organisations, a trainer, an org admin, learners.

Every per-learner table gets one row per person, so what a persona sees in a table is exactly
the set of people the policies allow. Written as the owner (RLS does not apply to it).
"""
import sqlalchemy as sa

PEOPLE = {  # id: (organisation, role, course enrolled in)
    "a1": ("o1", "learner", "c1"),
    "a2": ("o1", "learner", "c2"),
    "t1": ("o1", "trainer", "c2"),
    "adm": ("o1", "org_admin", "c2"),
    "b1": ("o2", "learner", "c3"),
}
COURSES = {"c1": ("o1", "t1"), "c2": ("o1", None), "c3": ("o2", None)}

# What each persona may see (learner: self; trainer: self + learners of the courses they train;
# org admin: the organisation).
EXPECTED = {
    "a1": {"a1"},
    "a2": {"a2"},
    "t1": {"t1", "a1"},
    "adm": {"a1", "a2", "t1", "adm"},
    "b1": {"b1"},
}

SEED_SQL = """
insert into organizations (id, name) values ('o1', 'Org one'), ('o2', 'Org two');
insert into users (id, email, full_name, organization_id)
  select p.id, p.id || '@example.org', 'Person ' || p.id, p.org from unnest(cast(:ids as text[]), cast(:orgs as text[])) as p(id, org);
insert into user_roles (id, user_id, role) select p.id || ':' || p.role, p.id, p.role from unnest(cast(:ids as text[]), cast(:roles as text[])) as p(id, role);
insert into courses (id, name, organization_id, trainer_id)
  values ('c1', 'Course 1', 'o1', 't1'), ('c2', 'Course 2', 'o1', null), ('c3', 'Course 3', 'o2', null);
insert into enrollments (id, user_id, course_id, progress_percent)
  select p.id || ':' || p.course, p.id, p.course, 10 from unnest(cast(:ids as text[]), cast(:courses as text[])) as p(id, course);
insert into user_skills (id, user_id, skill_id, mastery_level, last_assessed_at)
  select u || '-skill-sql', u, 'skill-sql', 50, :at from unnest(cast(:ids as text[])) u;
insert into assessment_results (id, user_id, course_id, assessment_id, skill_id, score, passing_score, submitted_at, updated_at)
  select 'ar-' || u, u, 'c1', 'as1', 'skill-sql', 80, 60, :at, :at from unnest(cast(:ids as text[])) u;
insert into learning_events (id, user_id, course_id, content_id, content_type, event_type, occurred_at, updated_at)
  select 'le-' || u, u, 'c1', 'ci1', 'video', 'completed', :at, :at from unnest(cast(:ids as text[])) u;
insert into learner_velocity_analytics (user_id, current_pace, target_pace, trend_direction, trend_percentage, status, calculated_at, expires_at)
  select u, 5, 5, 'stable', 0, 'on_track', :at, cast(:at as timestamptz) + interval '1 day' from unnest(cast(:ids as text[])) u;
insert into skill_gap_analytics (user_id, total_gaps, critical_gaps, gaps, calculated_at, expires_at)
  select u, 0, 0, '[]', :at, cast(:at as timestamptz) + interval '1 day' from unnest(cast(:ids as text[])) u;
insert into engagement_analytics (user_id, overall_score, trend, sessions_per_week, avg_session_duration, last_active,
                                  engagement_by_type, weekly_trend, calculated_at, expires_at)
  select u, 50, 'stable', 1, 30, :at, '{}', '[]', :at, cast(:at as timestamptz) + interval '1 day' from unnest(cast(:ids as text[])) u;
insert into mastery_analytics (user_id, mastered_skills, in_progress_skills, skills, mastery_distribution, calculated_at, expires_at)
  select u, 0, 1, '[]', '{}', :at, cast(:at as timestamptz) + interval '1 day' from unnest(cast(:ids as text[])) u;
insert into performance_analytics (user_id, avg_score, trend, assessments_taken, pass_rate, performance_by_skill, recent_scores, calculated_at, expires_at)
  select u, 80, 'stable', 1, 100, '{}', '[]', :at, cast(:at as timestamptz) + interval '1 day' from unnest(cast(:ids as text[])) u;
insert into content_effectiveness_analytics (user_id, most_effective, least_effective, recommendations, calculated_at, expires_at)
  select u, '[]', '[]', '[]', :at, cast(:at as timestamptz) + interval '1 day' from unnest(cast(:ids as text[])) u;
insert into predictive_analytics_cache (user_id, analytics_type, data, confidence_score, calculated_at, expires_at)
  select u, 'forecast', '{}', 0.5, :at, cast(:at as timestamptz) + interval '48 hours' from unnest(cast(:ids as text[])) u;
insert into user_points (user_id, total_points) select u, 123 from unnest(cast(:ids as text[])) u;
insert into point_transactions (id, user_id, points, activity_type, source_id, "timestamp")
  select 'pt-' || u, u, 10, 'content_completed', 'le-' || u, :at from unnest(cast(:ids as text[])) u;
insert into point_transactions_archive (id, user_id, points, activity_type, source_id, "timestamp")
  select 'pta-' || u, u, 10, 'content_completed', 'old-' || u, cast(:at as timestamptz) - interval '2 years' from unnest(cast(:ids as text[])) u;
insert into achievements (id, name, description, icon, tier, criteria)
  values ('gov-test', 'Test', 'Test', '*', 'beginner', '{"coursesCompleted": 1}') on conflict (id) do nothing;
insert into user_achievements (id, user_id, achievement_id) select 'ua-' || u, u, 'gov-test' from unnest(cast(:ids as text[])) u;
insert into daily_activity (id, user_id, date, last_activity_at) select 'da-' || u, u, cast(:at as date), :at from unnest(cast(:ids as text[])) u;
insert into user_preferences (user_id) select u from unnest(cast(:ids as text[])) u;
insert into learner_activity_summary (user_id, last_event_at, events_retired)
  select u, cast(:at as timestamptz) - interval '100 days', 1 from unnest(cast(:ids as text[])) u;
insert into learner_daily_activity (user_id, course_id, content_type, day, events, progress_events, first_at, last_at)
  select u, 'c1', 'video', cast(:at as date), 1, 0, :at, :at from unnest(cast(:ids as text[])) u;
insert into learner_daily_sessions (user_id, day, start_at, last_at, last_duration, events)
  select u, cast(:at as date), :at, :at, 60, 1 from unnest(cast(:ids as text[])) u;
insert into learner_daily_item_use (user_id, content_id, day, first_at, last_at)
  select u, 'i1', cast(:at as date), :at, :at from unnest(cast(:ids as text[])) u;
insert into learning_events_rollup_dirty (user_id, day)
  select u, cast(:at as date) from unnest(cast(:ids as text[])) u on conflict do nothing;
insert into quarantine (resource, source_id, reason, payload)
  select 'learning_events', 'q-' || u, 'bad', '{"user_id": "' || u || '"}' from unnest(cast(:ids as text[])) u;
"""


def seed_people(conn, at) -> None:
    ids = list(PEOPLE)
    params = {
        "ids": ids,
        "orgs": [PEOPLE[p][0] for p in ids],
        "roles": [PEOPLE[p][1] for p in ids],
        "courses": [PEOPLE[p][2] for p in ids],
        "at": at,
    }
    for statement in SEED_SQL.split(";\n"):
        if statement.strip():
            used = {k: v for k, v in params.items() if f":{k}" in statement}
            conn.execute(sa.text(statement), used)


def as_authenticated(conn, claims: str | None) -> None:
    """Inside the current transaction: become `authenticated` with these JWT claims (None: no claims)."""
    conn.execute(sa.text("set local role authenticated"))
    if claims is not None:
        conn.execute(sa.text("select set_config('request.jwt.claims', :c, true)"), {"c": claims})
