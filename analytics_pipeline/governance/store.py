"""The governance layer's store: access control, k-anonymity reads, retention, expiry and erasure
in the database (SQL in ``sql/queries/governance/`` and the functions of
sql/migrations/0006_governance.sql). The assets in ``assets/governance.py`` and
``assets/maintenance.py`` only wire these functions; the rules are the pure modules beside this
one (``policy.py``, ``kanon.py``).

Every action is written to ``governance_audit`` with counts only (no learner ids).
"""
from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics_pipeline.governance.kanon import effective_k, k_anonymity_verdict
from analytics_pipeline.governance.policy import ARCHIVE, DROP_PARTITIONS, RETENTION_POLICY, SNAPSHOT_TABLES, RetentionPolicy
from analytics_pipeline.warehouse import read_frame, sql_text

CURRENT_VIEWS = tuple(f"{table}_current" for table in SNAPSHOT_TABLES)
EXPIRING_TABLES = SNAPSHOT_TABLES + ("predictive_analytics_cache",)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _query(name: str, **identifiers: str) -> sa.TextClause:
    text = sql_text(f"governance/{name}")
    if identifiers:
        text = text.format(**{key: _ident(value) for key, value in identifiers.items()})
    return sa.text(text)


def _exists(conn: Connection, relation: str) -> bool:
    return conn.execute(sa.text("select to_regclass(:r) is not null"), {"r": relation}).scalar_one()


def audit(conn: Connection, action: str, target_table: str, rows_affected: int, detail: dict, run_id: str | None) -> None:
    conn.execute(_query("audit_insert.sql"), {
        "action": action, "target_table": target_table, "rows_affected": int(rows_affected),
        "detail": json.dumps(detail, default=str), "run_id": run_id,
    })


# ═══════════════ access control ═══════════════

def apply_access_control(conn: Connection, k: int) -> dict:
    """Write k for SQL and re-apply grants; return what was done."""
    k = effective_k(k)
    conn.execute(_query("set_k_anonymity.sql"), {"k": k})
    enforced = conn.execute(sa.text("select governance_enforce_access()")).scalar_one()
    return {"k": k, **enforced}


def rls_problems(conn: Connection) -> list[str]:
    frame = read_frame(conn, sql_text("governance/rls_coverage.sql"))
    problems = []
    for row in frame.itertuples(index=False):  # one row per table (19), not per learner
        if not row.present:
            problems.append(f"{row.table_name}: missing")
        elif not row.rls_enabled:
            problems.append(f"{row.table_name}: row-level security off")
        elif row.policies < 3:
            problems.append(f"{row.table_name}: {row.policies} policies (expected the 3 of the seed)")
    return problems


def access_problems(conn: Connection) -> list[str]:
    """RLS coverage problems, then whatever authenticated can read that bypasses them."""
    exposure = read_frame(conn, "select object_name, problem from governance_exposure_problems() order by 1")
    return rls_problems(conn) + [f"{r.object_name}: {r.problem}" for r in exposure.itertuples(index=False)]


def k_anonymity_result(conn: Connection, view: str, count_column: str, k: int) -> tuple[bool, dict]:
    """(passed, metadata) of the published groups of ``view`` against k (nothing published: passed)."""
    k = effective_k(k)
    sql_k = conn.execute(sa.text("select k_anonymity()")).scalar_one()
    populated = conn.execute(
        sa.text("select relispopulated from pg_class where oid = to_regclass(:v)"), {"v": view}).scalar_one_or_none()
    if not populated:
        return True, {"k": k, "k_in_sql": sql_k, "groups_published": 0,
                      "note": f"{view} is missing or not populated: nothing published"}
    return k_anonymity_verdict(read_frame(conn, f"select * from {_ident(view)}"), count_column, k, sql_k)


# ═══════════════ retention ═══════════════

def apply_retention(conn: Connection, as_of: pd.Timestamp, policy: RetentionPolicy = RETENTION_POLICY,
                    run_id: str | None = None) -> dict[str, dict]:
    """Apply every rule of ``policy`` at ``as_of``; audit each table; return counts per table."""
    report: dict[str, dict] = {}
    archived_at = pd.Timestamp.now(tz="UTC").to_pydatetime()
    for rule in policy.rules():
        if not _exists(conn, rule.table):
            report[rule.table] = {"skipped": "table missing"}
            continue
        cutoff = rule.cutoff_value(as_of)
        entry: dict = {"action": rule.action, "cutoff": str(cutoff)}
        rows = 0
        if rule.action == DROP_PARTITIONS:
            dropped = conn.execute(_query("retention_drop_partitions.sql"), {"table": rule.table, "cutoff": cutoff}).all()
            entry["partitions_dropped"] = [name for name, _ in dropped]
            rows += sum(n for _, n in dropped)
        if rule.action == ARCHIVE:
            moved, archived = conn.execute(
                _query("retention_archive.sql", table=rule.table, column=rule.column, archive_table=rule.archive_table),
                {"cutoff": cutoff, "archived_at": archived_at}).one()
            entry["rows_archived"] = archived
            rows += moved
        else:  # delete; for partitioned tables the boundary month's older rows
            rows += conn.execute(_query("retention_delete.sql", table=rule.table, column=rule.column), {"cutoff": cutoff}).rowcount
        entry["rows_removed"] = rows
        report[rule.table] = entry
        audit(conn, "retention", rule.table, rows,
              {"as_of": as_of.isoformat(), "data_type": rule.data_type, **entry}, run_id)
    return report


def retention_violations(conn: Connection, as_of: pd.Timestamp, policy: RetentionPolicy = RETENTION_POLICY) -> dict[str, int]:
    """Rows (and whole partitions) still past their limit at ``as_of``, per table (0 = compliant)."""
    found = {}
    for rule in policy.rules():
        if not _exists(conn, rule.table):
            continue
        cutoff = rule.cutoff_value(as_of)
        found[rule.table] = conn.execute(_query("retention_violations.sql", table=rule.table, column=rule.column),
                                         {"cutoff": cutoff}).scalar_one()
        if rule.action == DROP_PARTITIONS:
            stale = conn.execute(_query("partitions_past_limit.sql"), {"table": rule.table, "cutoff": cutoff}).scalars().all()
            if stale:
                found[f"{rule.table} (partitions)"] = len(stale)
    return found


def last_retention_as_of(conn: Connection, run_id: str) -> pd.Timestamp | None:
    """The instant the retention of run ``run_id`` was applied at (from governance_audit), if any."""
    as_of = conn.execute(_query("last_retention_as_of.sql"), {"run_id": run_id}).scalar_one_or_none()
    return None if as_of is None else pd.Timestamp(as_of).tz_convert("UTC")


# ═══════════════ expiry ═══════════════

def expiry_problems(conn: Connection) -> tuple[dict[str, int], list[str]]:
    """Rows with expires_at <= calculated_at or served expired by a current view; and the views missing."""
    problems, missing = {}, []
    for table in EXPIRING_TABLES:
        if _exists(conn, table):
            problems[table] = conn.execute(_query("expiry_invalid_rows.sql", table=table)).scalar_one()
    for view in CURRENT_VIEWS:
        if _exists(conn, view):
            problems[view] = conn.execute(_query("expiry_current_view_expired.sql", view=view)).scalar_one()
        else:
            missing.append(view)
    return problems, missing


# ═══════════════ erasure ═══════════════

def process_erasures(conn: Connection, run_id: str | None = None) -> tuple[int, dict[str, int]]:
    """Erase every pending learner; return (learners, rows deleted per table). Their users rows are
    locked first (``lock_erasure_subjects.sql``): a step still writing rows for them is waited for."""
    conn.execute(_query("lock_erasure_subjects.sql"))
    rows = conn.execute(sa.text("select target_table, rows_deleted, learners from process_erasure_requests(:run_id)"),
                        {"run_id": run_id}).all()
    learners = rows[0].learners if rows else 0
    return learners, {r.target_table: r.rows_deleted for r in rows}


def erasure_leftovers(conn: Connection) -> dict[str, int]:
    """Pending erasure requests and erased learners back in users (both 0 when erasure is complete)."""
    return {"pending_requests": conn.execute(_query("erasure_pending.sql")).scalar_one(),
            "erased_learners_back_in_users": conn.execute(_query("erased_learners_present.sql")).scalar_one()}


# ═══════════════ snapshot partitions (maintenance) ═══════════════

def ensure_snapshot_partitions(conn: Connection, at: pd.Timestamp, months_ahead: int) -> dict[str, int]:
    """Create the monthly partitions of the snapshot tables from ``at``'s month through
    ``months_ahead`` months later (ensure_snapshot_partitions in sql/migrations/0001_schema.sql)."""
    created = conn.execute(sa.text("select ensure_snapshot_partitions(:at, :at, :ahead)"),
                           {"at": at.to_pydatetime(), "ahead": months_ahead}).scalar_one()
    total = conn.execute(sa.text(
        "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent "
        "where p.relname in (select partitioned_snapshot_tables())")).scalar_one()
    return {"partitions_created": created, "partitions_total": total}
