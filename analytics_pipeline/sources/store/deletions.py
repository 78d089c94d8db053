"""Applying ``/v1/deletions``: which rows of which tables a published deletion removes.

``DELETION_RULES`` is the one place that maps an API resource to the statements that delete a
row and what hangs on it. Each statement reads the ids from the temp table ``deleted_ids``
(``resource``, ``id``) restricted to its resource. A user's deletion is an erasure, handed to
the governance layer's one erasure path (``sql/migrations/0006_governance.sql``): the user is
queued in ``erasure_requests`` and ``process_erasure_requests()`` removes them from every
per-learner table (raw cache, analytics, gamification, predictive, archive), records the
action in ``governance_audit`` without personal data and leaves a hashed tombstone — in the
same transaction as the watermark.
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics_pipeline.sources.contract import Validated
from analytics_pipeline.sources.store.tables import ExtractionStats, quarantine
from analytics_pipeline.warehouse import sql_text
from analytics_pipeline.warehouse.bulk import copy_frame

IDS = "(select id from deleted_ids where resource = '{resource}')"


def _by_key(table: str, column: str = "id") -> tuple[str, ...]:
    return (f"delete from {table} where {column} in {{ids}}",)


DELETION_RULES: dict[str, tuple[str, ...]] = {
    "organizations": (
        "update users set organization_id = null where organization_id in {ids}",
        *_by_key("organizations"),
    ),
    "courses": (
        "delete from course_skills where course_id in {ids}",
        "delete from enrollments where course_id in {ids}",
        *_by_key("courses"),
    ),
    "skills": (
        "delete from user_skills where skill_id in {ids}",
        "delete from course_skills where skill_id in {ids}",
        *_by_key("skills"),
    ),
    "enrollments": _by_key("enrollments"),
    "user-skills": _by_key("user_skills"),
    "content": _by_key("content_items"),
    "assessment-results": _by_key("assessment_results"),
    "learning-events": _by_key("learning_events"),
    "user-preferences": _by_key("user_preferences", "user_id"),
    "users": (
        "insert into erasure_requests (user_id, source) select id, 'lms:/v1/deletions' from deleted_ids "
        "where resource = 'users' on conflict (user_id) do nothing",
        sql_text("governance/lock_erasure_subjects.sql"),  # a `with` statement: its count is not a deletion
        "select coalesce(sum(rows_deleted), 0) from process_erasure_requests(:run_id)",
    ),
}


class DeletionSink:
    """Applies validated batches of ``/v1/deletions`` (same transaction as the watermark)."""

    def __init__(self, conn: Connection, stats: ExtractionStats, run_id: str | None):
        self.conn, self.stats, self.run_id = conn, stats, run_id
        conn.execute(sa.text("create temp table deleted_ids (resource text, id text) on commit drop"))
        self.rules = DELETION_RULES
        self.by_resource: dict[str, int] = {}

    def write(self, validated: Validated) -> None:
        self.stats.quarantined_invalid += quarantine(self.conn, "deletions", validated.rejected, self.run_id)
        if validated.valid.empty:
            return
        if self.stats.preview is None:
            self.stats.preview = validated.valid.head(5)
        self.conn.execute(sa.text("truncate deleted_ids"))
        copy_frame(self.conn, "deleted_ids", validated.valid[["resource", "id"]])
        for resource, count in validated.valid["resource"].value_counts().items():
            deleted = 0
            for statement in self.rules[resource]:
                result = self.conn.execute(sa.text(statement.format(ids=IDS.format(resource=resource))),
                                           {"run_id": self.run_id} if ":run_id" in statement else {})
                if statement.startswith("delete"):
                    deleted += max(result.rowcount, 0)
                elif statement.startswith("select"):
                    deleted += int(result.scalar_one())
            self.by_resource[resource] = self.by_resource.get(resource, 0) + int(count)
            self.stats.deleted += deleted


def deletion_counts(sink: DeletionSink) -> pd.DataFrame:
    """Deletions received per resource (for metadata)."""
    return pd.DataFrame(sorted(sink.by_resource.items()), columns=["resource", "deletions"])
