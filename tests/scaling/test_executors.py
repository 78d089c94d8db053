"""The executor by configuration, and the pools that bound concurrent steps."""
from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.orchestration import executors
from analytics_pipeline.orchestration.pools import LMS_API, POOL_LIMITS, WAREHOUSE_HEAVY, apply_pool_limits
from analytics_pipeline.settings import PROJECT_ROOT
from tests.scaling.runs import NIGHTLY_SLICE, PROBE_MODULE, PROJECT_MODULE, execute, step_events


@pytest.mark.parametrize("kind", ["in_process", "multiprocess", "celery", "k8s"])
def test_dagster_executor_picks_the_default_kind(monkeypatch, kind):
    monkeypatch.setenv("DAGSTER_EXECUTOR", kind)
    definition = executors.select_executor()
    default = definition.config_schema.as_field().default_value
    assert list(default["executor"]) == [kind]
    assert default["run_lock"] == {"enabled": True, "wait_seconds": 0}
    requirements = definition.get_requirements(default)
    assert (requirements == []) == (kind == "in_process")


def test_celery_broker_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("DAGSTER_EXECUTOR", "celery")
    default = executors.select_executor().config_schema.as_field().default_value
    assert default["executor"]["celery"]["broker"] == "pyamqp://guest:guest@127.0.0.1:5672//"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://broker:6379/0")
    default = executors.select_executor().config_schema.as_field().default_value
    assert default["executor"]["celery"]["broker"] == {"env": "CELERY_BROKER_URL"}  # no secret in the run config


def test_an_unknown_executor_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("DAGSTER_EXECUTOR", "threads")
    with pytest.raises(dg.DagsterInvariantViolationError, match="in_process, multiprocess, celery, k8s"):
        executors.select_executor()


def test_the_nightly_job_uses_the_configurable_executor():
    from analytics_pipeline.orchestration.jobs import nightly_job

    assert nightly_job.executor_def.name == executors.EXECUTOR_NAME


def test_lock_keys_differ_by_job_and_partition():
    keys = {executors.lock_key(j, p) for j in ("nightly", "other") for p in ("2025-03-01", "2025-03-02", None)}
    assert len(keys) == 6
    assert all(k[0] == executors.LOCK_NAMESPACE and 0 <= k[1] < 2**31 for k in keys)


def test_project_dagster_yaml_is_a_valid_instance_config(tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    (tmp_path / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    assert config["concurrency"]["pools"]["granularity"] == "op"


@pytest.mark.parametrize("kind", ["in_process", "multiprocess"])
def test_nightly_runs_with_each_local_executor(scaling_instance, warehouse_url, lms_sandbox, kind):
    """The nightly job's own executor and run lock, on a slice of its assets (the full graph runs
    through Celery and through the pooler)."""
    partition = lms_sandbox.partition
    run = execute(scaling_instance, PROJECT_MODULE, "nightly", partition, kind, asset_selection=NIGHTLY_SLICE)
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    assert run.job_name == "nightly" and set(run.asset_selection) == set(NIGHTLY_SLICE)
    engine_messages = [e.message for e in step_events(scaling_instance, run.run_id, dg.DagsterEventType.ENGINE_EVENT)]
    assert any(f"Run lock 'nightly[{partition}]' taken" in m and kind in m for m in engine_messages), engine_messages
    materialized = step_events(scaling_instance, run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
    assert {e.asset_key for e in materialized} == set(NIGHTLY_SLICE)
    workers = step_events(scaling_instance, run.run_id, dg.DagsterEventType.STEP_WORKER_STARTED)
    assert (len(workers) == len(NIGHTLY_SLICE)) == (kind == "multiprocess")  # one process per step, or none


def test_a_pool_limit_of_one_serialises_the_steps(scaling_instance, probe_table, monkeypatch):
    """Four independent steps of the pool warehouse_heavy, four processes allowed: with one slot
    they still run one after another (their intervals in the warehouse never overlap)."""
    monkeypatch.setenv("PROBE_SLEEP_SECONDS", "0.5")
    apply_pool_limits(scaling_instance, {WAREHOUSE_HEAVY: 1, LMS_API: POOL_LIMITS[LMS_API]})
    try:
        run = execute(scaling_instance, PROBE_MODULE, "probe_nightly", "2025-02-11", "multiprocess", {"max_concurrent": 4})
    finally:
        apply_pool_limits(scaling_instance)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    with probe_table.connect() as conn:
        rows = pd.read_sql_query(
            sa.text("select asset, started_at, finished_at from scaling_probe where run_id = :r order by started_at"),
            conn, params={"r": run.run_id},
        )
    assert len(rows) == 4
    assert (rows["started_at"].iloc[1:].to_numpy() >= rows["finished_at"].iloc[:-1].to_numpy()).all(), rows
    assert scaling_instance.event_log_storage.get_concurrency_info(WAREHOUSE_HEAVY).slot_count == POOL_LIMITS[WAREHOUSE_HEAVY]


def test_an_optional_executor_package_is_imported_only_when_its_kind_is_selected(monkeypatch):
    import os
    import subprocess
    import sys

    code = ("import sys, analytics_pipeline.orchestration.jobs; "
            "print(sorted(m for m in ('dagster_k8s', 'kubernetes', 'dagster_celery') if m in sys.modules))")
    env = {**os.environ, "DAGSTER_EXECUTOR": "multiprocess", "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "[]"
    monkeypatch.setenv("DAGSTER_EXECUTOR", "multiprocess")
    schema = executors.select_executor().config_schema.config_type
    from dagster._config import process_config

    assert process_config(schema, {"executor": {"k8s": {"job_namespace": "jobs"}}}).success  # still selectable
    definition = executors.kind_definition("k8s")
    checked = executors._checked_config("k8s", definition, {"job_namespace": "jobs"})
    assert checked["job_namespace"] == "jobs" and checked["retries"] == {"enabled": {}}  # its own schema's defaults
    with pytest.raises(dg.DagsterInvalidConfigError, match="k8s executor"):
        executors._checked_config("k8s", definition, {"no_such_field": 1})


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_multiprocess_steps_start_by_the_configured_method(scaling_instance, probe_table, monkeypatch, method):
    """DAGSTER_START_METHOD: forkserver steps are forked by one server process that preloaded the
    code location (their parent is not this process); spawn steps are this process's children."""
    import os

    monkeypatch.setenv("DAGSTER_START_METHOD", method)
    run = execute(scaling_instance, PROBE_MODULE, "probe_nightly", "2025-02-12", "multiprocess", {"max_concurrent": 2})
    assert run.status == dg.DagsterRunStatus.SUCCESS
    with probe_table.connect() as conn:
        parents = conn.execute(sa.text("select parent_pid from scaling_probe where run_id = :r"), {"r": run.run_id}).scalars().all()
    assert len(parents) == 4
    from analytics_pipeline.bench.events import step_timings

    steps = step_timings(scaling_instance, run.run_id, groups={})["steps"]  # the benchmark's start-up column
    assert len(steps) == 4 and all(s["startup_seconds"] > 0 for s in steps), steps
    if method == "forkserver":
        assert len(set(parents)) == 1 and parents[0] != os.getpid(), parents  # one server forked them all
        import psutil

        server = " ".join(psutil.Process(parents[0]).cmdline())
        # it preloaded GX and a code location: the job's module — or the project's, when an earlier
        # test of this process started Python's one forkserver per process (its preload list is fixed then)
        assert "forkserver" in server and executors.GX_MODULE in server, server
        assert PROBE_MODULE in server or executors.DEFINITIONS_MODULE in server, server
    else:
        assert set(parents) == {os.getpid()}, parents


def test_a_start_method_set_in_the_run_config_wins_and_an_unknown_one_is_refused(monkeypatch):
    monkeypatch.setenv("DAGSTER_START_METHOD", "spawn")
    assert executors.with_start_method("multiprocess", {}) == {"start_method": {"spawn": {}}}
    chosen = {"start_method": {"forkserver": {"preload_modules": ["x"]}}, "max_concurrent": 2}
    assert executors.with_start_method("multiprocess", chosen) == chosen
    assert executors.with_start_method("in_process", {}) == {}
    monkeypatch.setenv("DAGSTER_START_METHOD", "forkserver")
    assert executors.with_start_method("multiprocess", {}, PROBE_MODULE) == {
        "start_method": {"forkserver": {"preload_modules": [PROBE_MODULE, executors.STEP_IMPORTS_MODULE, executors.GX_MODULE]}}}
    assert executors.with_start_method("multiprocess", {}) == {
        "start_method": {"forkserver": {"preload_modules": [executors.DEFINITIONS_MODULE, executors.STEP_IMPORTS_MODULE, executors.GX_MODULE]}}}
    monkeypatch.setenv("DAGSTER_START_METHOD", "fork")
    with pytest.raises(dg.DagsterInvariantViolationError, match="forkserver, spawn"):
        executors.with_start_method("multiprocess", {})


def _run_python(code: str, **env_extra: str) -> str:
    import subprocess
    import sys

    from tests.scaling.conftest import subprocess_env

    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(**env_extra), capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT)
    return out.stdout


def test_the_preloaded_modules_import_no_thread_or_connection(scaling_home):
    """What a forkserver preloads is shared by every fork: importing the definitions, the step's
    instance imports and GX must open no socket and start no thread (a connection inherited by two
    steps would corrupt both) — with the instance configured, so its storage classes are imported."""
    code = ("import os, threading, analytics_pipeline.definitions, analytics_pipeline.quality.gx_import\n"
            "import analytics_pipeline.orchestration.step_imports as s\n"
            "fds = os.listdir('/proc/self/fd')\n"  # the listing's own descriptor is closed by now: skip it
            "links = [os.readlink(f'/proc/self/fd/{f}') for f in fds if os.path.exists(f'/proc/self/fd/{f}')]\n"
            "print(threading.active_count(), sum(link.startswith('socket:') for link in links), 'dagster_postgres' in s.IMPORTED)")
    assert _run_python(code).split() == ["1", "0", "True"]


def test_a_forked_step_opens_the_instance_without_importing(scaling_home):
    """A step's first act is opening the Dagster instance; without the preload it imported ~440
    modules (dagster-postgres, Alembic, SQLAlchemy's reflection, Rich …: 0.55 s of a 0.7 s start-up).
    After the preload of the executor's forkserver, opening it imports (almost) nothing."""
    code = ("import os, sys, analytics_pipeline.definitions, analytics_pipeline.orchestration.step_imports\n"
            "import dagster as dg\n"
            "from dagster._core.instance.ref import InstanceRef\n"
            "before = set(sys.modules)\n"
            "with dg.DagsterInstance.from_ref(InstanceRef.from_dir(os.environ['DAGSTER_HOME'])):\n"
            "    pass\n"
            "print(len(set(sys.modules) - before))")
    assert int(_run_python(code)) <= 5


def test_the_step_imports_never_fail_without_a_readable_instance_config(tmp_path):
    """The forkserver imports step_imports before any step: without DAGSTER_HOME, or with a
    dagster.yaml it cannot read, it names no module (a step imports what it needs itself) instead of
    failing the server; with the project's config it names the storage's modules."""
    from analytics_pipeline.orchestration.step_imports import configured_modules, import_all

    assert configured_modules(None) == [] and configured_modules("") == []
    (tmp_path / "dagster.yaml").write_text("storage: [this is: not, a valid instance config\n")
    assert configured_modules(str(tmp_path)) == []
    assert import_all(["no_such_module_anywhere", "json"]) == ["json"]
    (tmp_path / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    assert "dagster_postgres" in configured_modules(str(tmp_path))


def test_a_forkserver_started_early_is_the_one_the_steps_fork_from(scaling_home, tmp_path):
    """`make run` starts the forkserver as soon as the steps' environment is final, so its imports
    (the code location, the storage, GX: 5-10 s, which the first step waited for) overlap the
    launcher's own loading. The executor's later setup must reuse that server: a process started
    the way Dagster's multiprocess executor starts a step is its child, with the code location
    already imported, and it sees the environment of the moment the server started (why the
    launcher starts it only then)."""
    (tmp_path / "probe_child.py").write_text(
        "import os, sys\n"
        "def report(queue):\n"
        "    queue.put((os.getppid(), 'analytics_pipeline.definitions' in sys.modules, os.environ.get('EARLY_MARK')))\n")
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
            "import os, multiprocessing, probe_child\n"
            "from analytics_pipeline.orchestration.executors import forkserver_preload, start_forkserver\n"
            "os.environ['EARLY_MARK'] = 'at start'\n"
            "pid = start_forkserver()\n"
            "os.environ['EARLY_MARK'] = 'changed later'\n"
            "ctx = multiprocessing.get_context('forkserver')\n"  # what Dagster's executor does next
            "ctx.set_forkserver_preload(['dagster._core.executor.multiprocess', *forkserver_preload()])\n"
            "queue = ctx.Queue(); child = ctx.Process(target=probe_child.report, args=(queue,)); child.start()\n"
            "parent, preloaded, mark = queue.get(timeout=120); child.join()\n"
            "print(parent == pid, preloaded, mark.replace(' ', '_'))")
    assert _run_python(code).split() == ["True", "True", "at_start"]
    # with another start method there is no server to start
    assert _run_python("from analytics_pipeline.orchestration.executors import start_forkserver\n"
                       "print(start_forkserver())", DAGSTER_START_METHOD="spawn").strip() == "None"
