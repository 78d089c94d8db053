"""Warehouse maintenance: monthly partitions of the snapshot tables, created ahead of need
(wiring of ``governance/store.py``'s ``ensure_snapshot_partitions``)."""

import dagster as dg

from analytics_pipeline.governance.store import ensure_snapshot_partitions
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.resources import WarehouseResource

MONTHS_AHEAD = 2


@dg.asset(
    group_name="governance",
    kinds={"postgres"},
    owners=["team:data-platform"],
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
    description=(
        "Monthly partitions of the six analytics tables and the predictive cache, from the run's month "
        f"through {MONTHS_AHEAD} months ahead (ensure_snapshot_partitions in sql/migrations/0001_schema.sql). "
        "Writers also create the partition of their own snapshot, so a backfill of an old month never fails."
    ),
)
def snapshot_partitions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.engine().begin() as conn:
        return dg.MaterializeResult(metadata=ensure_snapshot_partitions(conn, snapshot_instant(context), MONTHS_AHEAD))


defs = dg.Definitions(assets=[snapshot_partitions])
