"""Applying ``/v1/deletions``: which rows of which tables a published deletion removes.

``DELETION_RULES`` is the one place that maps an API resource to the statements that delete a
row and what hangs on it. Each statement reads the ids from the temp table ``deleted_ids``
(``resource``, ``id``) restricted to its resource. A user's deletion is an erasure: every raw
table's rows of that user (``USER_TABLES``), every other table with a foreign key to
``users(id)`` (found in the catalog, so the analytics and gamification tables are covered as
they appear), the user's quarantined payloads, and then the user. The governance layer extends
the erasure to what the catalog cannot see by adding to ``USER_TABLES``.
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics_pipeline.sources.contract import Validated
from analytics_pipeline.sources.loader import ExtractionStats, quarantine
from analytics_pipeline.warehouse.bulk import copy_frame

IDS = "(select id from deleted_ids where resource = '{resource}')"

# Raw tables holding a user's rows: (table, column naming the user).
USER_TABLES: tuple[tuple[str, str], ...] = (
    ("user_roles", "user_id"), ("user_preferences", "user_id"), ("user_skills", "user_id"),
    ("enrollments", "user_id"), ("assessment_results", "user_id"), ("learning_events", "user_id"),
)


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
    # "users": built by erasure_statements() (needs the catalog)
}

REFERENCING_USERS_SQL = """
select c.conrelid::regclass::text as table_name, a.attname as column_name
from pg_constraint c
join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
where c.contype = 'f' and c.confrelid = 'users'::regclass and c.conparentid = 0
order by 1
"""


def erasure_statements(conn: Connection) -> tuple[str, ...]:
    """Statements that erase the users listed in ``deleted_ids``."""
    known = {table for table, _ in USER_TABLES}
    referencing = [(t, c) for t, c in conn.execute(sa.text(REFERENCING_USERS_SQL)).all() if t not in known]
    return (
        *(f"delete from {table} where {column} in {{ids}}" for table, column in (*USER_TABLES, *referencing)),
        "update courses set trainer_id = null where trainer_id in {ids}",
        "delete from quarantine where (resource = 'users' and source_id in {ids}) "
        "or (case when payload like '{{%' then payload::jsonb ->> 'user_id' end) in {ids}",
        *_by_key("users"),
    )


class DeletionSink:
    """Applies validated batches of ``/v1/deletions`` (same transaction as the watermark)."""

    def __init__(self, conn: Connection, stats: ExtractionStats, run_id: str | None):
        self.conn, self.stats, self.run_id = conn, stats, run_id
        conn.execute(sa.text("create temp table deleted_ids (resource text, id text) on commit drop"))
        self.rules = {**DELETION_RULES, "users": erasure_statements(conn)}
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
                result = self.conn.execute(sa.text(statement.format(ids=IDS.format(resource=resource))))
                deleted += max(result.rowcount, 0) if statement.startswith("delete") else 0
            self.by_resource[resource] = self.by_resource.get(resource, 0) + int(count)
            self.stats.deleted += deleted


def deletion_counts(sink: DeletionSink) -> pd.DataFrame:
    """Deletions received per resource (for metadata)."""
    return pd.DataFrame(sorted(sink.by_resource.items()), columns=["resource", "deletions"])
