"""Test-only definitions: four independent, warehouse-writing, partitioned assets (enough steps to
show where steps ran) and an always-failing asset (for the failure alert).

Each probe asset records, in ``scaling_probe``, the process it ran in (pid, parent pid), the
warehouse backend that served it, and when it started and ended. ``PROBE_SLEEP_SECONDS`` (test
environment only) stretches each step so that parallel workers visibly overlap.
No ``from __future__ import annotations`` (Dagster reads the annotations of asset functions).
"""
import os
import socket
import time

import dagster as dg
import sqlalchemy as sa

from analytics_pipeline.orchestration.executors import select_executor
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS
from analytics_pipeline.orchestration.pools import WAREHOUSE_HEAVY
from analytics_pipeline.resources import WarehouseResource

PROBE_TABLE_DDL = """
create table if not exists scaling_probe (
  asset text not null, run_id text not null, partition_key text not null,
  pid integer not null, parent_pid integer not null, hostname text not null, backend_pid integer not null,
  started_at timestamptz not null, finished_at timestamptz not null
)"""
PROBE_ASSETS = ("probe_a", "probe_b", "probe_c", "probe_d")


def _probe(name):
    @dg.asset(name=name, partitions_def=DAILY_PARTITIONS, pool=WAREHOUSE_HEAVY, group_name="scaling_probe")
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = time.time()
        time.sleep(float(os.environ.get("PROBE_SLEEP_SECONDS", "0")))
        with warehouse.engine().begin() as conn:
            backend_pid = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
            conn.execute(
                sa.text(
                    "insert into scaling_probe values (:asset, :run_id, :partition, :pid, :ppid, :host, :backend, "
                    "to_timestamp(:started), clock_timestamp())"
                ),
                {"asset": name, "run_id": context.run_id, "partition": context.partition_key, "pid": os.getpid(),
                 "ppid": os.getppid(), "host": socket.gethostname(), "backend": backend_pid, "started": started},
            )
        return dg.MaterializeResult(metadata={"pid": os.getpid(), "backend_pid": backend_pid})

    return _asset


probe_assets = [_probe(name) for name in PROBE_ASSETS]


@dg.asset(partitions_def=DAILY_PARTITIONS, group_name="scaling_probe")
def probe_failing(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    raise ValueError("probe failure: the LMS answered 503 three times")


probe_job = dg.define_asset_job(
    "probe_nightly", selection=dg.AssetSelection.assets(*probe_assets), partitions_def=DAILY_PARTITIONS,
    executor_def=select_executor(),
)
failing_job = dg.define_asset_job(
    "probe_failing_job", selection=dg.AssetSelection.assets(probe_failing), partitions_def=DAILY_PARTITIONS,
    executor_def=select_executor("in_process"),
)

defs = dg.Definitions(
    assets=[*probe_assets, probe_failing],
    jobs=[probe_job, failing_job],
    resources={"warehouse": WarehouseResource(database_url=dg.EnvVar("DATABASE_URL"))},
)
