"""The code location loads and validates; runs are recorded in Dagster's Postgres storage."""
import os
import subprocess
import sys

import dagster as dg
import sqlalchemy as sa

from analytics_pipeline.assets.maintenance import snapshot_partitions
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.settings import PROJECT_ROOT


def test_dagster_definitions_validate(warehouse_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": warehouse_url, "DAGSTER_HOME": str(tmp_path),
           "LMS_API_URL": os.environ.get("LMS_API_URL", "http://127.0.0.1:9"), "LMS_API_TOKEN": "t"}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Validation successful" in result.stdout + result.stderr


def test_a_run_lands_in_postgres_storage(warehouse_url, dagster_instance):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(dagster_instance.run_storage, PostgresRunStorage)
    assert isinstance(dagster_instance.event_log_storage, PostgresEventLogStorage)
    result = dg.materialize(
        [snapshot_partitions], partition_key="2026-01-15", instance=dagster_instance,
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
    )
    assert result.success
    storage_url = dagster_instance.run_storage.postgres_url
    engine = sa.create_engine(storage_url)
    with engine.connect() as conn:
        status = conn.execute(sa.text("select status from runs where run_id = :id"), {"id": result.run_id}).scalar_one()
        events = conn.execute(sa.text("select count(*) from event_logs where run_id = :id and dagster_event_type = 'ASSET_MATERIALIZATION'"),
                              {"id": result.run_id}).scalar_one()
    engine.dispose()
    assert status == "SUCCESS" and events == 1
    materialization = dagster_instance.get_latest_materialization_event(dg.AssetKey("snapshot_partitions"))
    assert materialization.asset_materialization.partition == "2026-01-15"
