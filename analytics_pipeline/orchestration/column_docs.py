"""Column descriptions of every published table, for the Dagster UI's column table.

``definitions.py`` applies :func:`with_column_docs` to the merged definitions: every asset that
writes one of these tables gets ``dagster/column_schema`` (name, type, description) and
``dagster/table_name`` on its definition; the learner analytics assets also put the described
schema on each materialization (``column_schema``). ``tests/orchestration/test_column_docs.py``
compares this catalog with the migrated warehouse: a column added by a migration without a
description here fails it. Formulas in full: docs/analytics.md, docs/gamification.md,
docs/predictive.md.
"""
from __future__ import annotations

import warnings

import dagster as dg

_ID = ("id", "text", "Row id (a UUID).")
_USER = ("user_id", "text", "The learner (users.id).")
_AT = ("calculated_at", "timestamptz", "Snapshot instant T: the end of the partition's day (UTC); values are as of T.")
_EXPIRES = ("expires_at", "timestamptz", "When the snapshot stops being current (T + the kind's TTL).")

TABLE_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "learner_velocity_analytics": [
        _ID, _USER,
        ("current_pace", "numeric(5,2)", "Progress points per week over the last 28 days, mean over active enrollments."),
        ("target_pace", "numeric(5,2)", "Points per week needed to finish by the target date, mean over active enrollments."),
        ("trend_direction", "text", "accelerating, stable or declining: last 14 days against the 14 before."),
        ("trend_percentage", "numeric(5,2)", "Change of progress in the last 14 days against the 14 before, in percent."),
        ("status", "text", "ahead (>= 1.1x target), on_track (>= 0.9x), behind (>= 0.5x), at_risk (below, or no event in 14 days)."),
        ("estimated_completion", "timestamptz", "T + remaining progress / current pace; empty when the pace is 0."),
        _AT, _EXPIRES,
    ],
    "skill_gap_analytics": [
        _ID, _USER,
        ("total_gaps", "integer", "Skills whose target level (active courses) exceeds the learner's mastery."),
        ("critical_gaps", "integer", "Gaps of 40 points or more."),
        ("gaps", "jsonb", "[{skillId, skillName, current, target, gap, priority}], highest priority first."),
        ("top_priority", "jsonb", "The first entry of gaps, or null."),
        _AT, _EXPIRES,
    ],
    "engagement_analytics": [
        _ID, _USER,
        ("overall_score", "integer", "0-100: session frequency, session length, recency and breadth of content types."),
        ("trend", "text", "rising, falling or stable: last two weeks' score against the two before (±10 %)."),
        ("sessions_per_week", "numeric(5,2)", "Sessions (30-minute gap rule) in the last 28 days / 4."),
        ("avg_session_duration", "integer", "Mean session length, whole minutes."),
        ("last_active", "timestamptz", "The learner's last learning event at or before T."),
        ("engagement_by_type", "jsonb", "Share (0-1) of time per content type in the last 28 days."),
        ("weekly_trend", "jsonb", "The score per week of the last weeks, oldest first."),
        _AT, _EXPIRES,
    ],
    "mastery_analytics": [
        _ID, _USER,
        ("mastered_skills", "integer", "Skills with mastery >= 80."),
        ("in_progress_skills", "integer", "Skills with 0 < mastery < 80."),
        ("skills", "jsonb", "[{skillId, skillName, level, lastAssessedAt}], highest level first."),
        ("mastery_distribution", "jsonb", "Skills per band: beginner, intermediate, advanced, expert."),
        _AT, _EXPIRES,
    ],
    "performance_analytics": [
        _ID, _USER,
        ("avg_score", "numeric(5,2)", "Mean assessment score over the last 90 days."),
        ("trend", "text", "improving, declining or stable: slope over the last 10 results."),
        ("assessments_taken", "integer", "Assessment results in the last 90 days."),
        ("pass_rate", "numeric(5,2)", "Percent (0-100) of those results at or above the passing score."),
        ("performance_by_skill", "jsonb", "[{skillId, skillName, avgScore, assessments}] per skill."),
        ("recent_scores", "jsonb", "The last 10 results [{score, submittedAt, assessmentId, skillId}], oldest first."),
        _AT, _EXPIRES,
    ],
    "content_effectiveness_analytics": [
        _ID, _USER,
        ("most_effective", "jsonb", "Up to 3 items (or content types) the learner used with the largest measured effect on scores."),
        ("least_effective", "jsonb", "Up to 3 other used items with the smallest effect."),
        ("recommendations", "jsonb", "Up to 3 sentences: unused items with the best effect on the learner's top gaps."),
        _AT, _EXPIRES,
    ],
    "predictive_analytics_cache": [
        _ID, _USER,
        ("analytics_type", "text", "drop_off_risk, forecast or recommendations (one asset each)."),
        ("data", "jsonb", "drop_off_risk: {probability, risk_level, top_reasons, method, horizon_days}; forecast: "
                          "{enrollments: [...]}; recommendations: {content, skills}."),
        ("confidence_score", "numeric(5,2)", "0-100: how far the prediction can be trusted (drop-off: held-out AUC mapped to 0-100)."),
        _AT, _EXPIRES,
    ],
    "daily_activity": [
        _ID, _USER,
        ("date", "date", "The learner's local day (their time zone) with at least one learning event."),
        ("last_activity_at", "timestamptz", "The day's last event."),
        ("first_activity_at", "timestamptz", "The day's first event."),
    ],
    "point_transactions": [
        _ID, _USER,
        ("points", "integer", "Points earned (the rules of docs/gamification.md)."),
        ("activity_type", "text", "What earned them: content_completed, assessment_passed, streak, achievement, ..."),
        ("metadata", "jsonb", "Details of the earning event."),
        ("timestamp", "timestamptz", "When the points were earned (the event's time)."),
        ("source_id", "text", "The event, result or achievement the points come from (one transaction per source)."),
    ],
    "user_achievements": [
        _ID, _USER,
        ("achievement_id", "text", "The achievement (achievements.id)."),
        ("earned_at", "timestamptz", "When its criteria were first met."),
    ],
    "user_points": [
        _USER,
        ("total_points", "integer", "Sum of the learner's point transactions."),
        ("current_level", "integer", "Level reached with total_points."),
        ("current_streak", "integer", "Consecutive local days with activity up to the last run."),
        ("longest_streak", "integer", "Longest such run of days."),
        ("updated_at", "timestamptz", "Last recomputation."),
    ],
    "leaderboard_weekly": [
        ("entry_id", "text", "Opaque id of the entry (not the learner's id)."),
        ("rank", "bigint", "Rank by points this UTC week (learners who hide themselves are not ranked)."),
        ("weekly_points", "bigint", "Points since the start of the UTC week."),
        ("user_id", "text", "The learner; empty for anonymous learners."),
        ("display_name", "text", "The learner's name, or 'Anonymous learner'."),
        ("avatar_url", "text", "Avatar; empty for anonymous learners."),
        ("is_anonymous", "boolean", "The learner chose anonymous leaderboards."),
        ("period_start", "date", "First day of the week."),
    ],
    "leaderboard_monthly": [
        ("entry_id", "text", "Opaque id of the entry (not the learner's id)."),
        ("rank", "bigint", "Rank by points this UTC month (learners who hide themselves are not ranked)."),
        ("monthly_points", "bigint", "Points since the start of the UTC month."),
        ("user_id", "text", "The learner; empty for anonymous learners."),
        ("display_name", "text", "The learner's name, or 'Anonymous learner'."),
        ("avatar_url", "text", "Avatar; empty for anonymous learners."),
        ("is_anonymous", "boolean", "The learner chose anonymous leaderboards."),
        ("period_start", "date", "First day of the month."),
    ],
    "peer_comparison_aggregates": [
        ("organization_id", "text", "The organisation."),
        ("competency_level", "text", "beginner, intermediate or advanced (from the learners' mean mastery)."),
        ("avg_velocity", "numeric(7,2)", "Mean current pace of the group's learners."),
        ("median_velocity", "numeric(7,2)", "Median current pace."),
        ("avg_score", "numeric", "Mean assessment score; empty when fewer than k learners have one."),
        ("sample_size", "bigint", "Learners in the group (groups under k are not published)."),
        ("score_sample_size", "bigint", "Learners of the group with a performance snapshot."),
    ],
    "skill_demand_aggregates": [
        ("skill_id", "text", "The skill."),
        ("skill_name", "text", "Its name."),
        ("learner_count", "bigint", "Learners assessed on the skill in the month (cells under k withheld)."),
        ("avg_mastery", "numeric(7,2)", "Their mean mastery."),
        ("month", "timestamptz", "The UTC month."),
        ("growth_rate", "numeric", "Change of learner_count against the previous calendar month, when that one was published."),
    ],
}

# assets whose key is not their table's name
ASSET_TABLES = {
    "predictive_drop_off_risk": "predictive_analytics_cache",
    "predictive_forecast": "predictive_analytics_cache",
    "predictive_recommendations": "predictive_analytics_cache",
}


def table_schema(table: str) -> dg.TableSchema:
    """The described column schema of ``table`` (KeyError: not a published table)."""
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description=text) for name, type_, text in TABLE_COLUMNS[table]])


def column_description(table: str, column: str) -> str | None:
    return next((text for name, _, text in TABLE_COLUMNS.get(table, []) if name == column), None)


def table_of(asset_key: dg.AssetKey) -> str | None:
    name = asset_key.path[-1]
    table = ASSET_TABLES.get(name, name)
    return table if table in TABLE_COLUMNS else None


def described(spec: dg.AssetSpec) -> dg.AssetSpec:
    table = table_of(spec.key)
    if table is None:
        return spec
    metadata = {"dagster/table_name": f"public.{table}", **spec.metadata, "dagster/column_schema": table_schema(table)}
    return spec.replace_attributes(metadata=metadata)


def with_column_docs(defs: dg.Definitions) -> dg.Definitions:
    with warnings.catch_warnings():  # map_asset_specs is marked "preview" in 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=described)
