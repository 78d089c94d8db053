"""`analytics-pipeline run` as `make run` calls it, on throw-away warehouse and Dagster databases."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
from analytics_pipeline.warehouse.urls import dagster_storage_url


@dataclass
class CliPipeline:
    env: dict
    storage: str
    home: str
    engine: object

    def run(self, *args: str, timeout: int = 1500, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "analytics_pipeline.cli", "run", *args], cwd=PROJECT_ROOT,
                              env={**self.env, **extra_env}, capture_output=True, text=True, timeout=timeout)


@contextmanager
def cli_pipeline(pg_server_url: str, home, api_url: str, token: str, executor: str | None, prefix: str) -> Iterator[CliPipeline]:
    """Fresh databases ``<prefix>_<random>`` (warehouse) and ``<prefix>_dagster_<random>``, a
    DAGSTER_HOME with the project's dagster.yaml, the environment pointing at the LMS ``api_url``
    (``executor`` None: DAGSTER_EXECUTOR unset, `make run` chooses by the platform's size)."""
    suffix = os.urandom(4).hex()
    warehouse_db, dagster_db = f"{prefix}_{suffix}", f"{prefix}_dagster_{suffix}"
    warehouse = ensure_database(pg_server_url, warehouse_db)
    storage = dagster_storage_url(ensure_database(pg_server_url, dagster_db), dagster_db)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DATABASE_URL": warehouse, "DAGSTER_PG_URL": storage, "DAGSTER_HOME": str(home),
           "LMS_API_URL": api_url, "LMS_API_TOKEN": token, "DAGSTER_EXECUTOR": executor or ""}
    if executor is None:
        env.pop("DAGSTER_EXECUTOR")
    engine = make_engine(warehouse)
    try:
        yield CliPipeline(env, storage, str(home), engine)
    finally:
        engine.dispose()
        make_engine.cache_clear()
        drop_database(pg_server_url, warehouse_db)
        drop_database(pg_server_url, dagster_db)
