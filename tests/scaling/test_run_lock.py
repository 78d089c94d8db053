"""Two overlapping nightly runs of the same partition: the second fails cleanly before its first
step (default), or waits for the first (run_lock.wait_seconds); the first is never disturbed.
The runs are of the nightly job restricted to its maintenance step (snapshot_partitions): the lock
is the job's (name and partition), whatever the steps. Each run is a process of its own, as
under Dagster's run launcher: two in-process runs in threads of the test process once hung CI (the
first run stalled while the other executed in the same process)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import dagster as dg
import psycopg
import pytest

from analytics_pipeline.orchestration.executors import LOCK_NAMESPACE, lock_key
from analytics_pipeline.warehouse.urls import libpq_url
from analytics_pipeline.settings import PROJECT_ROOT
from tests.scaling.conftest import subprocess_env
from tests.scaling.runs import PROJECT_MODULE, step_events

GATED_STEP = (dg.AssetKey("snapshot_partitions"),)
# snapshot_partitions (the nightly's maintenance step) takes this lock first thing; holding it
# keeps the first run in progress, deterministically, for as long as the test wants.
STEP_GATE = "select pg_advisory_xact_lock(hashtext('ensure_monthly_partitions:learner_velocity_analytics'))"


class BackgroundRun:
    """One run of the nightly's gated step in a process of its own, as Dagster's run workers run
    them (two runs executing in threads of one process interfered with each other in the past:
    see the module docstring)."""

    def __init__(self, partition: str, wait_seconds: int | None = None):
        extra = [] if wait_seconds is None else ["--wait-seconds", str(wait_seconds)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.scaling.runs", PROJECT_MODULE, "nightly", partition, "in_process",
             "--select", *(key.to_user_string() for key in GATED_STEP), *extra],
            cwd=PROJECT_ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def finish(self, instance, timeout: float) -> dg.DagsterRun:
        """The finished run (fails the test, and kills the process, when it runs past ``timeout`` s)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"a run did not finish within {timeout} s")
        assert self.proc.returncode == 0, out[-2000:] + err[-3000:]
        run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
        return instance.get_run_by_id(run_id)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.communicate()


def _wait_for_run_lock(storage_url: str, partition: str, holders: int = 1, timeout: float = 60) -> None:
    _, objid = lock_key("nightly", partition)
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_url(storage_url.replace("+psycopg2", "")), autocommit=True) as conn:
        while time.monotonic() < deadline:
            granted = conn.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and classid = %s and objid = %s and granted",
                (LOCK_NAMESPACE, objid),
            ).fetchone()[0]
            if granted >= holders:
                return
            time.sleep(0.1)
    raise AssertionError(f"no run took the lock of nightly[{partition}] within {timeout} s")


@pytest.fixture
def step_gate(warehouse_url):
    conn = psycopg.connect(libpq_url(warehouse_url))
    # bounded: were the lock held by a connection another test leaked, fail with the holder named
    conn.execute("set lock_timeout = '30s'")
    try:
        conn.execute(STEP_GATE)
    except psycopg.errors.LockNotAvailable:
        conn.rollback()
        holders = conn.execute(
            "select a.pid, a.state, a.application_name, left(a.query, 200) from pg_locks l "
            "join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and l.granted "
            "and l.database = (select oid from pg_database where datname = current_database())").fetchall()
        conn.close()
        pytest.fail(f"the step gate's advisory lock is held by another session: {holders}")
    yield conn
    conn.rollback()
    conn.close()


def _run_lock_sessions(storage_url: str) -> int:
    """Sessions of run locks (holding or polling) on Dagster's database."""
    with psycopg.connect(libpq_url(storage_url.replace("+psycopg2", "")), autocommit=True) as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where application_name like 'dagster-run-lock %' "
            "and datname = current_database()").fetchone()[0]


def _wait_for(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


@pytest.fixture
def background_runs():
    runs: list[BackgroundRun] = []
    yield runs
    for run in runs:  # a failed assertion never leaves a run behind
        run.kill()


def test_overlapping_runs_of_one_partition(scaling_home, scaling_instance, warehouse_url, step_gate, background_runs):
    import os

    storage_url = os.environ["DAGSTER_PG_URL"]
    partition = "2025-02-16"
    first = BackgroundRun(partition)
    background_runs.append(first)
    _wait_for_run_lock(storage_url, partition, timeout=180)  # a process start + the code location import

    # the second run of the same partition fails at once, before any step, naming the first
    # (bounded: were the lock broken, its step would wait on the gate forever)
    second_run = BackgroundRun(partition)
    background_runs.append(second_run)
    second = second_run.finish(scaling_instance, timeout=180)
    assert second.status == dg.DagsterRunStatus.FAILURE
    assert step_events(scaling_instance, second.run_id, dg.DagsterEventType.STEP_START) == []
    assert first.alive()
    # a run of another partition is not held up by the lock (its step waits on the test's gate only)
    other_key = lock_key("nightly", "2025-02-17")
    assert other_key != lock_key("nightly", partition)

    # a third run that may wait, waits for the first (its lock session polls beside the holder's)
    third = BackgroundRun(partition, wait_seconds=240)
    background_runs.append(third)
    _wait_for(lambda: _run_lock_sessions(storage_url) >= 2, "the third run waiting for the run lock", timeout=180)
    assert third.alive() and first.alive()

    step_gate.rollback()  # open the gate: the first run goes on and ends, then the third runs
    first_run = first.finish(scaling_instance, timeout=180)
    third_run = third.finish(scaling_instance, timeout=240)
    assert first_run.status == dg.DagsterRunStatus.SUCCESS
    assert third_run.status == dg.DagsterRunStatus.SUCCESS

    failure_text = " ".join(
        str(r.dagster_event.event_specific_data.error.to_string() if getattr(r.dagster_event.event_specific_data, "error", None) else r.message)
        for r in scaling_instance.all_logs(second.run_id)
        if r.dagster_event and r.dagster_event.event_type in (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.ENGINE_EVENT)
    )
    assert "RunLockedError" in failure_text and f"run {first_run.run_id}" in failure_text, failure_text
    assert f"nightly[{partition}] is already being materialized" in failure_text

    # the waiting run started its steps only after the first run had finished
    first_end = max(r.timestamp for r in scaling_instance.all_logs(first_run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS))
    third_steps = [r.timestamp for r in scaling_instance.all_logs(third_run.run_id, of_type=dg.DagsterEventType.STEP_START)]
    assert third_steps and min(third_steps) >= first_end
