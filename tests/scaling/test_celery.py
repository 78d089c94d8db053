"""The same definitions through dagster-celery: two workers on a broker started by the test,
Dagster's storage on the test PostgreSQL; the steps must land on both workers."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

import dagster as dg
import psutil
import pytest
import sqlalchemy as sa
import yaml

from analytics_pipeline.settings import PROJECT_ROOT
from tests.scaling.conftest import subprocess_env
from tests.scaling.runs import PROBE_MODULE, PROJECT_MODULE, execute, step_events
from tests.scaling.services import ensure_package

# dagster-celery registers its task again on every submission in the launching process (harmless)
pytestmark = pytest.mark.filterwarnings("ignore:Task name .execute_plan. is already registered")

WORKERS = ("ap-worker-1", "ap-worker-2")


@pytest.fixture(scope="module")
def dagster_celery():
    ensure_package("redis", "redis>=5")  # Celery's Redis transport
    return ensure_package("dagster_celery", "dagster-celery>=0.29,<0.30")  # the `celery` extra


def _dagster_celery_cli() -> str:
    import sys

    return os.path.join(os.path.dirname(sys.executable), "dagster-celery")


@pytest.fixture(scope="module")
def celery_workers(dagster_celery, broker_url, scaling_home, warehouse_url, probe_table, lms_sandbox, tmp_path_factory):
    """Two `dagster-celery worker start` processes (solo pool: a step runs in the worker's own
    process), each with its own node name, LMS_API_URL on the module's sandbox; stopped (their
    whole process group) at the end."""
    config = tmp_path_factory.mktemp("celery") / "celery.yaml"
    config.write_text(yaml.safe_dump({"execution": {"config": {"broker": broker_url, "backend": broker_url}}}))
    env = subprocess_env(DATABASE_URL=warehouse_url, PROBE_SLEEP_SECONDS="1.5")
    processes = {}
    logs = {}
    try:
        for name in WORKERS:
            logs[name] = tmp_path_factory.mktemp(name) / "worker.log"
            processes[name] = subprocess.Popen(
                [_dagster_celery_cli(), "worker", "start", "-A", "dagster_celery.app", "-y", str(config), "-n", name,
                 "--loglevel", "INFO", "--", "--pool=solo", "--without-gossip", "--without-mingle"],
                cwd=PROJECT_ROOT, env=env, stdout=logs[name].open("w"), stderr=subprocess.STDOUT, start_new_session=True,
            )
        hostnames = {f"{name}@{socket.gethostname()}" for name in WORKERS}
        _wait_until_ready(broker_url, hostnames, processes, logs)
        yield {"broker": broker_url, "processes": processes, "hostnames": hostnames}
    finally:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def _wait_until_ready(broker_url, hostnames, processes, logs, timeout=60):
    from dagster_celery.make_app import make_app

    app = make_app({"broker": broker_url, "backend": broker_url})
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"celery worker {name} exited: {logs[name].read_text()[-3000:]}")
        replies = app.control.ping(timeout=1.0) or []
        seen = {host for reply in replies for host in reply}
        if hostnames <= seen:
            return
    raise RuntimeError(f"celery workers not ready after {timeout} s (answered: {seen})")


def _worker_of_each_step(instance, run_id) -> dict[str, str]:
    """step key -> the Celery worker that executed it, from the engine events the task writes."""
    found = {}
    for event in step_events(instance, run_id, dg.DagsterEventType.ENGINE_EVENT):
        metadata = event.engine_event_data.metadata or {}
        if "Celery worker" in metadata:
            found[event.step_key] = metadata["Celery worker"].value
    return found


def _celery(broker_url):
    return {"broker": broker_url, "backend": broker_url}


def test_nightly_runs_through_celery_workers(celery_workers, scaling_instance, lms_sandbox):
    """The whole nightly graph (sources from the sandbox LMS through governance), every step on a worker."""
    run = execute(scaling_instance, PROJECT_MODULE, "nightly", lms_sandbox.partition, "celery", _celery(celery_workers["broker"]))
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    workers = _worker_of_each_step(scaling_instance, run.run_id)
    planned = {e.step_key for e in step_events(scaling_instance, run.run_id, dg.DagsterEventType.STEP_START)}
    assert planned and set(workers) == planned  # every step of nightly ran in a Celery worker
    assert set(workers.values()) <= celery_workers["hostnames"]


def test_steps_run_on_both_workers(celery_workers, scaling_instance, probe_table):
    run = execute(scaling_instance, PROBE_MODULE, "probe_nightly", "2025-02-12", "celery", _celery(celery_workers["broker"]))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    # 1. Dagster's own record: the engine event of each step names the worker that ran it
    workers = _worker_of_each_step(scaling_instance, run.run_id)
    assert len(workers) == 4
    assert set(workers.values()) == celery_workers["hostnames"], workers
    # 2. the assets' own record: the pid each step ran in belongs to one worker's process tree, and
    #    both trees appear (cannot hold if a single worker ran everything)
    with probe_table.connect() as conn:
        pids = set(conn.execute(sa.text("select pid from scaling_probe where run_id = :r"), {"r": run.run_id}).scalars())
    trees = {
        name: {process.pid} | {child.pid for child in psutil.Process(process.pid).children(recursive=True)}
        for name, process in celery_workers["processes"].items()
    }
    assert len(pids) >= 2
    assert pids <= set().union(*trees.values())
    assert all(pids & tree for tree in trees.values()), (pids, trees)
    assert os.getpid() not in pids
