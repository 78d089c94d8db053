"""The retention policy: the one place that says how long each kind of data is kept.

The seed's retention table (reference/seed/database-architecture.md, "Data Retention Policy"),
as applied by the daily ``retention`` asset at the snapshot instant T (the end of its
partition's day) and proven afterwards by the ``retention_limits_hold`` check:

| data (seed)               | tables                                        | limit    | action at T |
|---------------------------|-----------------------------------------------|----------|-------------|
| Predictive cache          | predictive_analytics_cache (calculated_at)    | 48 hours | whole monthly partitions whose upper bound ≤ T − 48 h dropped, older rows deleted |
| User activity logs        | learning_events (occurred_at), assessment_results (submitted_at), daily_activity (date), quarantine (quarantined_at) | 90 days | rows older than T − 90 d deleted |
| Personal analytics (hot)  | the six analytics tables                      | 7 days   | nothing is removed: rows calculated in the last 7 days are the ones the `*_current` views and dashboards serve (expires_at) |
| Personal analytics (warm) | the six analytics tables (calculated_at)      | 7 years  | monthly partitions whose upper bound ≤ T − 7 years detached and dropped; stragglers of the boundary month deleted |
| Point transactions        | point_transactions ("timestamp")              | 1 year, then archived (indefinite) | moved to point_transactions_archive (+ archived_at); user_points untouched |

"Older than the cutoff" means strictly before ``T - limit``. Every limit is a field of
:class:`RetentionPolicy` so that it can be configured; :meth:`RetentionPolicy.rules` turns
the policy into the per-table rules the asset executes and the check verifies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

DELETE = "delete"
DROP_PARTITIONS = "drop_partitions"
ARCHIVE = "archive"

SNAPSHOT_TABLES = (
    "learner_velocity_analytics",
    "skill_gap_analytics",
    "engagement_analytics",
    "mastery_analytics",
    "performance_analytics",
    "content_effectiveness_analytics",
)
PREDICTIVE_TABLE = "predictive_analytics_cache"

# Event-level rows, the seed's "user activity logs": (table, timestamp column, column is a date).
ACTIVITY_LOG_TABLES = (
    ("learning_events", "occurred_at", False),
    ("assessment_results", "submitted_at", False),
    ("daily_activity", "date", True),
    ("quarantine", "quarantined_at", False),  # rejected source rows: raw personal payloads
)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``table`` whose ``column`` is before ``as_of - keep`` are past their limit."""

    table: str
    column: str
    keep: pd.Timedelta | pd.DateOffset
    action: str
    data_type: str
    column_is_date: bool = False
    archive_table: str | None = None

    def cutoff(self, as_of: pd.Timestamp) -> pd.Timestamp:
        """The oldest instant still kept at ``as_of`` (tz-aware UTC)."""
        as_of = pd.Timestamp(as_of)
        if as_of.tzinfo is None:
            raise ValueError("as_of must be tz-aware (UTC)")
        return (as_of.tz_convert("UTC") - self.keep)

    def cutoff_value(self, as_of: pd.Timestamp):
        """The cutoff as the SQL parameter: a date for date columns, else a datetime."""
        cut = self.cutoff(as_of)
        return cut.date() if self.column_is_date else cut.to_pydatetime()

    def describe(self) -> str:
        return f"{self.table}.{self.column}: keep {self.keep}, then {self.action}"


@dataclass(frozen=True)
class RetentionPolicy:
    predictive_cache: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(hours=48))
    activity_logs: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=90))
    personal_analytics_hot: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=7))
    personal_analytics: pd.DateOffset = field(default_factory=lambda: pd.DateOffset(years=7))
    point_transactions_archive_after: pd.DateOffset = field(default_factory=lambda: pd.DateOffset(years=1))

    def rules(self) -> tuple[RetentionRule, ...]:
        rules = [RetentionRule(PREDICTIVE_TABLE, "calculated_at", self.predictive_cache, DROP_PARTITIONS, "Predictive cache")]
        rules += [
            RetentionRule(table, "calculated_at", self.personal_analytics, DROP_PARTITIONS, "Personal analytics (warm)")
            for table in SNAPSHOT_TABLES
        ]
        rules += [
            RetentionRule(table, column, self.activity_logs, DELETE, "User activity logs", column_is_date=is_date)
            for table, column, is_date in ACTIVITY_LOG_TABLES
        ]
        rules.append(RetentionRule(
            "point_transactions", "timestamp", self.point_transactions_archive_after, ARCHIVE, "Point transactions",
            archive_table="point_transactions_archive",
        ))
        return tuple(rules)

    def activity_cutoff(self, as_of: pd.Timestamp) -> pd.Timestamp:
        """The oldest activity-log instant still kept at ``as_of``: the learner-analytics
        snapshot of ``as_of`` reads no event or result before it (retention deletes them at
        ``as_of``, after the snapshot, so reading them would make a re-run differ)."""
        return pd.Timestamp(as_of).tz_convert("UTC") - self.activity_logs

    def hot_window_start(self, as_of: pd.Timestamp) -> pd.Timestamp:
        """Snapshots calculated at or after this instant are the hot tier."""
        return pd.Timestamp(as_of).tz_convert("UTC") - self.personal_analytics_hot


RETENTION_POLICY = RetentionPolicy()
