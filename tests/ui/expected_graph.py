"""The asset graph the team expects once every layer has landed — the spec the UI tests derive
their expectations from.

``EXPECTED_ASSETS`` maps each asset key to its group and the keys that must lie upstream of it
(lineage: a direct dependency or one through other assets; the tests check it on the loaded
Definitions and on the GraphQL ``dependencyKeys`` of the running webserver).

Every key below must exist, with every edge, and the nightly and hourly leaderboard
schedules must be defined.
"""
from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class Expected:
    group: str
    upstream: frozenset[str] = frozenset()


def _e(group: str, *upstream: str) -> Expected:
    return Expected(group, frozenset(upstream))


SOURCES = {
    "organizations": _e("sources"),
    "skills": _e("sources"),
    "users": _e("sources", "organizations"),
    "courses": _e("sources", "organizations", "skills"),
    "enrollments": _e("sources", "users", "courses"),
    "user_skills": _e("sources", "users", "skills"),
    "content_items": _e("sources", "courses"),  # the "content" source; its asset is named after its table
    "assessment_results": _e("sources", "users", "courses"),
    "learning_events": _e("sources", "users", "courses", "content_items"),
    "user_preferences": _e("sources", "users"),
    "deletions": _e("sources", "organizations", "users", "courses", "enrollments", "skills", "user_skills",
                    "content_items", "assessment_results", "learning_events", "user_preferences"),
}

LEARNER_ANALYTICS = {
    "learner_velocity_analytics": _e("learner_analytics", "enrollments", "learning_events", "learner_daily_activity"),
    # the per-learner daily rollup (issue 18): maintained before the snapshots that read it
    "learner_daily_activity": _e("learner_analytics", "learning_events"),
    "skill_gap_analytics": _e("learner_analytics", "enrollments", "user_skills"),
    # the retained activity facts (issue 15): folded before the snapshots and before retention
    "learner_activity_summary": _e("learner_analytics", "learning_events", "assessment_results"),
    "engagement_analytics": _e("learner_analytics", "enrollments", "learning_events", "learner_activity_summary",
                               "learner_daily_activity"),
    "mastery_analytics": _e("learner_analytics", "user_skills", "skills"),
    "performance_analytics": _e("learner_analytics", "assessment_results"),
    # its evidence from the rollup's item cells (issue 18, migration 0021)
    "content_effectiveness_analytics": _e("learner_analytics", "assessment_results", "learning_events", "content_items",
                                          "learner_daily_activity"),
}

GAMIFICATION = {
    "point_transactions": _e("gamification", "learning_events", "assessment_results", "enrollments"),
    "daily_activity": _e("gamification", "learning_events"),
    "user_points": _e("gamification", "point_transactions"),
    "user_achievements": _e("gamification", "point_transactions"),
}

AGGREGATES = {
    "leaderboard_weekly": _e("aggregates", "point_transactions"),
    "leaderboard_monthly": _e("aggregates", "point_transactions"),
    "peer_comparison_aggregates": _e("aggregates", "learner_velocity_analytics", "performance_analytics", "user_skills",
                                     "access_control"),
    "skill_demand_aggregates": _e("aggregates", "user_skills", "skills", "access_control"),
}

PREDICTIVE = {
    "predictive_drop_off_risk": _e("predictive", "learning_events", "enrollments", "engagement_analytics",
                                   "learner_velocity_analytics", "performance_analytics"),
    "predictive_forecast": _e("predictive", "learning_events", "enrollments", "learner_velocity_analytics"),
    "predictive_recommendations": _e("predictive", "skill_gap_analytics", "content_effectiveness_analytics"),
}

GOVERNANCE = {
    "snapshot_partitions": _e("governance"),
    "access_control": _e("governance"),
    "retention": _e("governance", "learning_events", "point_transactions", "predictive_drop_off_risk",
                    "learner_activity_summary"),
    "erasure": _e("governance", "deletions", "learner_velocity_analytics", "point_transactions",
                  "predictive_recommendations"),
}

REPORTING = {
    "analyst_report": _e("reporting", "snapshot_partitions", "engagement_analytics", "learner_velocity_analytics",
                         "skill_gap_analytics", "leaderboard_weekly", "peer_comparison_aggregates"),
}

EXPECTED_ASSETS: dict[str, Expected] = {
    **SOURCES, **LEARNER_ANALYTICS, **GAMIFICATION, **AGGREGATES, **PREDICTIVE, **GOVERNANCE, **REPORTING,
}

# Groups whose tables the dashboards read: they carry the freshness policy.
DASHBOARD_GROUPS = {"learner_analytics", "aggregates", "predictive"}

# Schedules (by job): the nightly run of the whole graph and the hourly leaderboard refresh.
EXPECTED_SCHEDULE_JOBS = {"nightly", "hourly_leaderboard"}

# The job the UI tests launch.
NIGHTLY_JOB = "nightly"


def expected_keys_present(loaded: set[str]) -> dict[str, Expected]:
    """The expected assets (all of them must be loaded)."""
    return dict(EXPECTED_ASSETS)


def expected_edges(loaded: set[str]) -> set[tuple[str, str]]:
    """(upstream, downstream) pairs to assert now."""
    edges = set()
    for key, spec in expected_keys_present(loaded).items():
        for upstream in spec.upstream:
            edges.add((upstream, key))
    return edges


def ancestors(parents: dict[str, set[str]], key: str) -> set[str]:
    """All keys upstream of ``key`` in a {key: direct parents} graph."""
    seen: set[str] = set()
    stack = list(parents.get(key, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(parents.get(node, ()))
    return seen
