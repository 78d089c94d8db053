"""Warehouse maintenance: monthly partitions of the snapshot tables, created ahead of need."""
import dagster as dg
import sqlalchemy as sa

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
    instant = snapshot_instant(context)
    with warehouse.engine().begin() as conn:
        created = conn.execute(
            sa.text("select ensure_snapshot_partitions(:at, :at, :ahead)"),
            {"at": instant.to_pydatetime(), "ahead": MONTHS_AHEAD},
        ).scalar_one()
        total = conn.execute(
            sa.text(
                "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent "
                "where p.relname in (select partitioned_snapshot_tables())"
            )
        ).scalar_one()
    return dg.MaterializeResult(metadata={"partitions_created": created, "partitions_total": total})


defs = dg.Definitions(assets=[snapshot_partitions])
