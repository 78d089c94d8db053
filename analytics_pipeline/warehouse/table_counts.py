"""Rows per warehouse table: what `make run` prints after a run and what the analyst report's
"pipeline health" section shows (the source and analytics tables, plus the leaderboard views)."""

import sqlalchemy as sa

COUNTED_TABLES = (
    "organizations", "users", "courses", "enrollments", "skills", "user_skills", "content_items",
    "assessment_results", "learning_events", "user_preferences", "quarantine",
    "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics", "mastery_analytics",
    "performance_analytics", "content_effectiveness_analytics", "point_transactions", "user_points",
    "user_achievements", "daily_activity", "predictive_analytics_cache",
    "leaderboard_weekly", "leaderboard_monthly", "peer_comparison_aggregates", "skill_demand_aggregates",
)


def row_counts(conn: sa.Connection, tables: tuple[str, ...] = COUNTED_TABLES) -> dict[str, int | None]:
    """Rows of each of ``tables`` (default ``COUNTED_TABLES``), in that order (None: the table does not exist yet)."""
    counts: dict[str, int | None] = {}
    for table in tables:  # one query per table (26), not per row
        exists = conn.execute(sa.text("select to_regclass(:t) is not null"), {"t": table}).scalar_one()
        counts[table] = conn.execute(sa.text(f'select count(*) from "{table}"')).scalar_one() if exists else None
    return counts
