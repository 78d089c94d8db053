"""Governance: access control, retention, erasure — applied by assets, proven by asset checks.

- ``access_control``: writes k into ``pipeline_settings`` (read by SQL's ``k_anonymity()``) and
  re-applies the grants (``governance_enforce_access()`` in sql/migrations/0006_governance.sql).
- ``retention``: applies ``governance.policy.RETENTION_POLICY`` at T (end of the partition's day).
- ``erasure``: processes ``erasure_requests`` (inserted by the sources layer from /v1/deletions).
- checks: RLS coverage and exposure, retention limits, expiry, erased learners, and k-anonymity of
  the gamification layer's aggregate views (blocking).

Wiring only: the database work is ``governance/store.py``, the rules ``governance/policy.py``
and ``governance/kanon.py``. Every action is written to ``governance_audit`` with counts only (no
learner ids). docs/governance.md.
"""
import dagster as dg

from analytics_pipeline.governance import store
from analytics_pipeline.governance.policy import RETENTION_POLICY
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.settings import load_settings

GROUP = "governance"
OWNERS = ["team:data-platform"]
# Every asset that writes per-learner rows: retention and erasure run after them in the nightly
# job, so nothing they remove is written again in the same run.
PER_LEARNER_WRITERS = [dg.AssetKey(k) for k in (
    "deletions", "learning_events", "assessment_results",
    "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics", "mastery_analytics",
    "performance_analytics", "content_effectiveness_analytics",
    "point_transactions", "daily_activity", "user_points", "user_achievements",
    "predictive_drop_off_risk", "predictive_forecast", "predictive_recommendations",
)]
K_VIEWS = {"peer_comparison_aggregates": "sample_size", "skill_demand_aggregates": "learner_count"}
DAILY_GOVERNANCE_ASSET = dict(
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
)


@dg.asset(
    **DAILY_GOVERNANCE_ASSET,
    description=(
        "k-anonymity threshold (K_ANONYMITY, never below 5) written to pipeline_settings for SQL's k_anonymity(); "
        "grants re-applied: role authenticated reads the per-learner tables through row-level security, views run "
        "with the caller's rights, materialized views with learner ids are withheld, nothing is writable."
    ),
)
def access_control(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.engine().begin() as conn:
        done = store.apply_access_control(conn, load_settings().k_anonymity)
    context.log.info("k=%s, %s objects readable by authenticated", done["k"], len(done["granted"]))
    return dg.MaterializeResult(metadata={
        "k_anonymity": done["k"],
        "views_secured": done["views_secured"],
        "readable_by_authenticated": dg.MetadataValue.json(sorted(done["granted"])),
        "materialized_views_withheld": dg.MetadataValue.json(sorted(done["materialized_views_withheld"])),
    })


@dg.asset_check(asset=access_control, blocking=True, description=(
    "Every per-learner table has row-level security with the seed's three policies, and nothing authenticated "
    "can read bypasses them (no unprotected table or partition, no owner-rights view, no unmasked materialized "
    "view); authenticated holds no write privilege."))
def access_is_governed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        problems = store.access_problems(conn)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"problems": dg.MetadataValue.json(problems[:100]), "problem_count": len(problems)},
    )


# ═══════════════ k-anonymity of the published aggregates (views owned by the gamification layer) ═══════════════

def _k_anonymity_check(name: str, view: str, description: str) -> dg.AssetChecksDefinition:
    """Blocking check ``name`` on the aggregate view ``view``: no published group under k."""
    @dg.asset_check(name=name, asset=dg.AssetKey(view), blocking=True, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.engine().connect() as conn:
            passed, metadata = store.k_anonymity_result(conn, view, K_VIEWS[view], load_settings().k_anonymity)
        return dg.AssetCheckResult(passed=passed, metadata=metadata)

    return _check


peer_comparison_k_anonymity = _k_anonymity_check(
    "peer_comparison_k_anonymity", "peer_comparison_aggregates",
    "No published peer group has fewer than k learners (sample_size).")
skill_demand_k_anonymity = _k_anonymity_check(
    "skill_demand_k_anonymity", "skill_demand_aggregates",
    "No published skill-month cell has fewer than k learners (learner_count).")


# ═══════════════ retention ═══════════════

@dg.asset(
    **DAILY_GOVERNANCE_ASSET,
    deps=PER_LEARNER_WRITERS,
    description=(
        "The seed's retention policy at T (end of the day): predictive cache 48 h, activity logs 90 d, personal "
        "analytics 7 years (whole monthly partitions dropped), point transactions archived after 1 year "
        "(analytics_pipeline/governance/policy.py). Each table's action is audited in governance_audit."
    ),
)
def retention(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    as_of = snapshot_instant(context)
    with warehouse.engine().begin() as conn:
        report = store.apply_retention(conn, as_of, RETENTION_POLICY, context.run_id)
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
        as_of = store.last_retention_as_of(conn, context.op_execution_context.run_id)
        if as_of is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": "no retention run recorded in governance_audit"})
        found = store.retention_violations(conn, as_of)
    past = {table: n for table, n in found.items() if n}
    return dg.AssetCheckResult(passed=not past, metadata={
        "as_of": as_of.isoformat(), "past_limit": dg.MetadataValue.json(past), "tables_checked": len(found)})


@dg.asset_check(asset=retention, description=(
    "Every analytics and predictive row expires after it was calculated, and no *_current view serves an expired "
    "row (views not created yet are listed in the metadata)."))
def expiry_is_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        problems, missing = store.expiry_problems(conn)
    bad = {name: n for name, n in problems.items() if n}
    return dg.AssetCheckResult(passed=not bad, metadata={
        "violations": dg.MetadataValue.json(bad), "current_views_missing": dg.MetadataValue.json(missing),
        "objects_checked": len(problems)})


# ═══════════════ erasure ═══════════════

@dg.asset(
    **DAILY_GOVERNANCE_ASSET,
    deps=PER_LEARNER_WRITERS,
    description=(
        "Learners deleted upstream (erasure_requests, filled by the sources layer from /v1/deletions) are erased "
        "from every table with a user_id column, quarantine, courses.trainer_id and users (erase_learners); the "
        "request becomes a salted-hash tombstone; counts go to governance_audit. Aggregates drop them at their "
        "next refresh."
    ),
)
def erasure(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.engine().begin() as conn:
        learners, counts = store.process_erasures(conn, context.run_id)
    return dg.MaterializeResult(metadata={
        "learners_erased": learners,
        "rows_deleted_total": sum(counts.values()),
        "rows_deleted": dg.MetadataValue.json({t: n for t, n in sorted(counts.items()) if n}),
    })


@dg.asset_check(asset=erasure, blocking=True,
                description="No pending erasure request is left and no erased learner has come back into users.")
def erasure_is_complete(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine().connect() as conn:
        leftovers = store.erasure_leftovers(conn)
    return dg.AssetCheckResult(passed=not any(leftovers.values()), metadata=leftovers)


defs = dg.Definitions(
    assets=[access_control, retention, erasure],
    asset_checks=[access_is_governed, peer_comparison_k_anonymity, skill_demand_k_anonymity,
                  retention_limits_hold, expiry_is_consistent, erasure_is_complete],
)
