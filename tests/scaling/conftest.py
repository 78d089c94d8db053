"""Fixtures of the scaling tests: a DAGSTER_HOME whose dagster.yaml is the project's (Postgres
storage on a throw-away database), the probe table, a Celery broker, a PgBouncer and the sandbox
LMS the nightly's sources read from."""
from __future__ import annotations

import dataclasses
import os
import sys
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics_pipeline.orchestration.launch import default_partition
from analytics_pipeline.sandbox import SandboxHandle, start_in_thread
from analytics_pipeline.settings import ENVIRONMENT, PROJECT_ROOT
from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
from analytics_pipeline.warehouse.urls import dagster_storage_url
from tests.scaling import services
from tests.scaling.probe_defs import PROBE_TABLE_DDL


@pytest.fixture(scope="session")
def scaling_home(pg_server_url):
    """DAGSTER_HOME with the project's dagster.yaml; DAGSTER_PG_URL points at a throw-away database."""
    name = f"ap_dagster_scaling_{uuid.uuid4().hex[:8]}"
    url = ensure_database(pg_server_url, name)
    home = Path(tempfile.mkdtemp(prefix="ap-dagster-home-"))
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_PG_URL", "DAGSTER_HOME")}
    os.environ["DAGSTER_PG_URL"] = dagster_storage_url(url, name)
    os.environ["DAGSTER_HOME"] = str(home)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(home, ignore_errors=True)
    drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def scaling_instance(scaling_home):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(scaling_home)) as instance:
        yield instance


@pytest.fixture(scope="session")
def probe_table(warehouse_url) -> sa.Engine:
    engine = make_engine(warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text(PROBE_TABLE_DDL))
    return engine


@pytest.fixture(scope="session")
def broker_url():
    with services.celery_broker() as url:
        yield url


@pytest.fixture(scope="session")
def pooler(pg_server_url, warehouse_url):
    database = sa.engine.make_url(warehouse_url).database
    with services.pgbouncer(pg_server_url, demo_database=database) as bouncer:
        yield bouncer


@dataclasses.dataclass(frozen=True)
class Lms:
    handle: SandboxHandle
    partition: str  # the sandbox's last complete day: a partition whose day has data


@pytest.fixture(scope="module")
def lms_sandbox() -> Iterator[Lms]:
    """One XS sandbox LMS per test module; LMS_API_URL/LMS_API_TOKEN point at it for the module
    (this process, and so the runs, step processes, workers and CLIs started from it).

    The token is the documented default, so the LMS resource resolves it the same way whenever
    analytics_pipeline.definitions was first imported."""
    token = ENVIRONMENT["LMS_API_TOKEN"][0]
    handle = start_in_thread("XS", seed=42, token=token, port=0)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LMS_API_URL", handle.url)
            patch.setenv("LMS_API_TOKEN", token)
            yield Lms(handle, default_partition(handle.url, token))
    finally:
        handle.stop()


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a worker or CLI subprocess: this worktree first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    # the venv's scripts (dagster-celery starts `celery` by name)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.update(extra)
    return env
