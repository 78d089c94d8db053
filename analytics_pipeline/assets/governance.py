"""Governance: access control, retention, erasure — applied by assets, proven by asset checks.

- ``access_control``: writes k into ``pipeline_settings`` (read by SQL's ``k_anonymity()``) and
  re-applies the grants (``governance_enforce_access()`` in sql/migrations/0006_governance.sql).
- ``retention``: applies ``governance.policy.RETENTION_POLICY`` at T (end of the partition's day).
- ``erasure``: processes ``erasure_requests`` (inserted by the sources layer from /v1/deletions).
- checks: RLS coverage and exposure, retention limits, expiry, erased learners, and k-anonymity of
  the gamification layer's aggregate views (blocking).

Every action is written to ``governance_audit`` with counts only (no learner ids). docs/governance.md.
"""
import json

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics_pipeline.governance.kanon import effective_k, groups_below_k
from analytics_pipeline.governance.policy import ARCHIVE, DROP_PARTITIONS, RETENTION_POLICY, SNAPSHOT_TABLES, RetentionPolicy
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.settings import load_settings
from analytics_pipeline.warehouse import read_frame, sql_text

GROUP = "governance"
OWNERS = ["team:data-platform"]
CURRENT_VIEWS = tuple(f"{table}_current" for table in SNAPSHOT_TABLES)
EXPIRING_TABLES = SNAPSHOT_TABLES + ("predictive_analytics_cache",)
K_VIEWS = {"peer_comparison_aggregates": "sample_size", "skill_demand_aggregates": "learner_count"}


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


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
    description=(
        "k-anonymity threshold (K_ANONYMITY, never below 5) written to pipeline_settings for SQL's k_anonymity(); "
        "grants re-applied: role authenticated reads the per-learner tables through row-level security, views run "
        "with the caller's rights, materialized views with learner ids are withheld, nothing is writable."
    ),
)
def access_control(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.engine().begin() as conn:
        done = apply_access_control(conn, load_settings().k_anonymity)
    context.log.info("k=%s, %s objects readable by authenticated", done["k"], len(done["granted"]))
    return dg.MaterializeResult(metadata={
        "k_anonymity": done["k"],
        "views_secured": done["views_secured"],
        "readable_by_authenticated": dg.MetadataValue.json(sorted(done["granted"])),
        "materialized_views_withheld": dg.MetadataValue.json(sorted(done["materialized_views_withheld"])),
    })


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


@dg.asset_check(asset=access_control, blocking=True, description=(
    "Every per-learner table has row-level security with the seed's three policies, and nothing authenticated "
    "can read bypasses them (no unprotected table or partition, no owner-rights view, no unmasked materialized "
    "view); authenticated holds no write privilege."))
def access_is_governed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        problems = rls_problems(conn)
        exposure = read_frame(conn, "select object_name, problem from governance_exposure_problems() order by 1")
    problems += [f"{r.object_name}: {r.problem}" for r in exposure.itertuples(index=False)]
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"problems": dg.MetadataValue.json(problems[:100]), "problem_count": len(problems)},
    )


# ═══════════════ k-anonymity of the published aggregates (views owned by the gamification layer) ═══════════════

def k_anonymity_result(conn: Connection, view: str, count_column: str, k: int) -> dg.AssetCheckResult:
    k = effective_k(k)
    sql_k = conn.execute(sa.text("select k_anonymity()")).scalar_one()
    populated = conn.execute(
        sa.text("select relispopulated from pg_class where oid = to_regclass(:v)"), {"v": view}).scalar_one_or_none()
    if not populated:
        return dg.AssetCheckResult(passed=True, metadata={
            "k": k, "k_in_sql": sql_k, "groups_published": 0, "note": f"{view} is missing or not populated: nothing published"})
    published = read_frame(conn, f"select * from {_ident(view)}")
    return k_anonymity_of_frame(published, count_column, k, sql_k)


def k_anonymity_of_frame(published: pd.DataFrame, count_column: str, k: int, sql_k: int | None = None) -> dg.AssetCheckResult:
    """Passed when no published group is under k (pure: testable on any query result)."""
    k = effective_k(k)
    small = groups_below_k(published, count_column, k)
    counts = pd.to_numeric(published[count_column], errors="coerce")
    return dg.AssetCheckResult(
        passed=small.empty,
        metadata={
            "k": k,
            "k_in_sql": sql_k if sql_k is not None else "-",
            "groups_published": len(published),
            "groups_below_k": len(small),
            "smallest_group": int(counts.min()) if counts.notna().any() else "-",
        },
    )


@dg.asset_check(asset=dg.AssetKey("peer_comparison_aggregates"), blocking=True,
                description="No published peer group has fewer than k learners (sample_size).")
def peer_comparison_k_anonymity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        return k_anonymity_result(conn, "peer_comparison_aggregates", K_VIEWS["peer_comparison_aggregates"], load_settings().k_anonymity)


@dg.asset_check(asset=dg.AssetKey("skill_demand_aggregates"), blocking=True,
                description="No published skill-month cell has fewer than k learners (learner_count).")
def skill_demand_k_anonymity(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        return k_anonymity_result(conn, "skill_demand_aggregates", K_VIEWS["skill_demand_aggregates"], load_settings().k_anonymity)


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


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
    description=(
        "The seed's retention policy at T (end of the day): predictive cache 48 h, activity logs 90 d, personal "
        "analytics 7 years (whole monthly partitions dropped), point transactions archived after 1 year "
        "(analytics_pipeline/governance/policy.py). Each table's action is audited in governance_audit."
    ),
)
def retention(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    as_of = snapshot_instant(context)
    with warehouse.engine().begin() as conn:
        report = apply_retention(conn, as_of, RETENTION_POLICY, context.run_id)
    metadata: dict = {"as_of": as_of.isoformat()}
    for table, entry in report.items():
        metadata[f"{table}_rows_removed"] = entry.get("rows_removed", 0)
        if "partitions_dropped" in entry:
            metadata[f"{table}_partitions_dropped"] = len(entry["partitions_dropped"])
        if "rows_archived" in entry:
            metadata[f"{table}_rows_archived"] = entry["rows_archived"]
    metadata["rows_removed_total"] = sum(e.get("rows_removed", 0) for e in report.values())
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=retention, blocking=True,
                description="After retention, no row (and no whole partition) is past its limit at the run's T.")
def retention_limits_hold(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        as_of = conn.execute(_query("last_retention_as_of.sql"), {"run_id": context.op_execution_context.run_id}).scalar_one_or_none()
        if as_of is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": "no retention run recorded in governance_audit"})
        found = retention_violations(conn, pd.Timestamp(as_of).tz_convert("UTC"))
    past = {table: n for table, n in found.items() if n}
    return dg.AssetCheckResult(passed=not past, metadata={
        "as_of": pd.Timestamp(as_of).isoformat(), "past_limit": dg.MetadataValue.json(past), "tables_checked": len(found)})


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


@dg.asset_check(asset=retention, description=(
    "Every analytics and predictive row expires after it was calculated, and no *_current view serves an expired "
    "row (views not created yet are listed in the metadata)."))
def expiry_is_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        problems, missing = expiry_problems(conn)
    bad = {name: n for name, n in problems.items() if n}
    return dg.AssetCheckResult(passed=not bad, metadata={
        "violations": dg.MetadataValue.json(bad), "current_views_missing": dg.MetadataValue.json(missing),
        "objects_checked": len(problems)})


# ═══════════════ erasure ═══════════════

def process_erasures(conn: Connection, run_id: str | None = None) -> tuple[int, dict[str, int]]:
    """Erase every pending learner; return (learners, rows deleted per table)."""
    rows = conn.execute(sa.text("select target_table, rows_deleted, learners from process_erasure_requests(:run_id)"),
                        {"run_id": run_id}).all()
    learners = rows[0].learners if rows else 0
    return learners, {r.target_table: r.rows_deleted for r in rows}


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
    description=(
        "Learners deleted upstream (erasure_requests, filled by the sources layer from /v1/deletions) are erased "
        "from every table with a user_id column, quarantine, courses.trainer_id and users (erase_learners); the "
        "request becomes a salted-hash tombstone; counts go to governance_audit. Aggregates drop them at their "
        "next refresh."
    ),
)
def erasure(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.engine().begin() as conn:
        learners, counts = process_erasures(conn, context.run_id)
    return dg.MaterializeResult(metadata={
        "learners_erased": learners,
        "rows_deleted_total": sum(counts.values()),
        "rows_deleted": dg.MetadataValue.json({t: n for t, n in sorted(counts.items()) if n}),
    })


@dg.asset_check(asset=erasure, blocking=True,
                description="No pending erasure request is left and no erased learner has come back into users.")
def erasure_is_complete(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        pending = conn.execute(_query("erasure_pending.sql")).scalar_one()
        returned = conn.execute(_query("erased_learners_present.sql")).scalar_one()
    return dg.AssetCheckResult(passed=pending == 0 and returned == 0,
                               metadata={"pending_requests": pending, "erased_learners_back_in_users": returned})


defs = dg.Definitions(
    assets=[access_control, retention, erasure],
    asset_checks=[access_is_governed, peer_comparison_k_anonymity, skill_demand_k_anonymity,
                  retention_limits_hold, expiry_is_consistent, erasure_is_complete],
)
