"""The executor of the jobs, chosen by configuration: in_process, multiprocess, Celery or Kubernetes.

:func:`select_executor` returns one executor definition, ``analytics_pipeline``, whose run config
is a selector over the four kinds; ``DAGSTER_EXECUTOR`` (settings.ENVIRONMENT, default
``multiprocess``) picks the default and a run's config may pick another::

    execution:
      config:
        executor:
          celery:                       # or in_process: {}, multiprocess: {max_concurrent: 4}, k8s: {...}
            broker: {env: CELERY_BROKER_URL}
        run_lock:
          wait_seconds: 0               # the default: a second run of the same job and partition fails at once

The ``celery`` kind is dagster-celery's ``celery_executor`` (extra ``celery``), the ``k8s`` kind
dagster-k8s' ``k8s_job_executor`` (extra ``k8s``); their config is theirs, unchanged. The default
broker of ``celery`` is ``CELERY_BROKER_URL``, its result backend ``CELERY_RESULT_BACKEND``.
Their packages are imported only for the kind ``DAGSTER_EXECUTOR`` names (its full schema is in
the launchpad) or when a run selects one: another optional kind stays selectable with a
permissive config field, checked against the kind's own schema (defaults included) when the run
starts. Loading the code location — which every step process does — thus skips dagster-k8s and
the Kubernetes client (~0.6 s).

Every kind is wrapped in a *run lock*: before the first step, the run takes a PostgreSQL
transaction-level advisory lock on (job, partition) and keeps it until the last step ended, so two
runs of the same job for the same day never write the same snapshot at once — whichever way they
were started (``make run`` executes directly, bypassing the run queue; the UI, schedules and
backfills go through it). The lock lives on Dagster's own storage database when that is
PostgreSQL (a direct connection; see docs/scaling.md), else on the warehouse (``DATABASE_URL``);
being transaction-scoped, it is also correct behind a transaction-mode pooler. When the process
that holds it dies, PostgreSQL drops the connection and the lock with it.

Steps share nothing but the warehouse and the environment: assets return ``MaterializeResult``
(no values through an IO manager), so any step can run on any worker or pod.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster import Executor, InitExecutorContext, in_process_executor, multiple_process_executor_requirements, multiprocess_executor
from dagster._config import process_config  # non-public: checks a lazily imported executor's config
from dagster._core.events import EngineEventData  # non-public: engine event metadata

from analytics_pipeline.settings import ENVIRONMENT, env, env_is_set

log = logging.getLogger(__name__)

KINDS = ("in_process", "multiprocess", "celery", "k8s")
EXECUTOR_NAME = "analytics_pipeline"
DEFINITIONS_MODULE = "analytics_pipeline.definitions"  # the code location
STEP_IMPORTS_MODULE = "analytics_pipeline.orchestration.step_imports"  # the instance's storage, opened by every step
GX_MODULE = "analytics_pipeline.quality.gx_import"  # Great Expectations, imported lazily by the steps
PARTITION_TAG = "dagster/partition"
LOCK_NAMESPACE = 0x4150  # "AP": first key of the two-int advisory lock, keeps clear of other users' locks


class RunLockedError(dg.DagsterError):
    """Another run of the same job and partition holds the run lock."""


# kind -> (module, attribute, package, extra) of the executors that live in optional packages.
_OPTIONAL = {
    "celery": ("dagster_celery", "celery_executor", "dagster-celery", "celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s", "k8s"),
}
_LOCAL = {"in_process": in_process_executor, "multiprocess": multiprocess_executor}


def _installed(kind: str) -> bool:
    """Whether the optional package of ``kind`` is installed (without importing it)."""
    return kind in _LOCAL or importlib.util.find_spec(_OPTIONAL[kind][0]) is not None


def kind_definition(kind: str) -> dg.ExecutorDefinition | None:
    """Dagster's executor definition of ``kind`` (imports its package: dagster-k8s costs ~0.6 s);
    None when the optional package is not installed."""
    if kind in _LOCAL:
        return _LOCAL[kind]
    module, attribute, _, _ = _OPTIONAL[kind]
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError:
        return None


def _needs(kind: str) -> str:
    package, extra = _OPTIONAL[kind][2:]
    return f"{package}: pip install -e '.[{extra}]'"


def default_kind() -> str:
    kind = env("DAGSTER_EXECUTOR").strip().lower().replace("-", "_") or "multiprocess"
    if kind not in KINDS:
        raise dg.DagsterInvariantViolationError(
            f"DAGSTER_EXECUTOR={kind!r} is not one of {', '.join(KINDS)} ({ENVIRONMENT['DAGSTER_EXECUTOR'][1]})."
        )
    return kind


def kind_for_platform(learners: int | None, small_limit: int) -> tuple[str, str]:
    """(kind, reason) for a run started by `make run`: ``DAGSTER_EXECUTOR`` when it is set; else
    ``in_process`` for a platform of at most ``small_limit`` learners (one process: no ~40 step
    processes each importing Dagster, pandas and GX), ``multiprocess`` when larger or unknown."""
    if env_is_set("DAGSTER_EXECUTOR"):
        return default_kind(), "DAGSTER_EXECUTOR"
    if learners is None:
        return "multiprocess", "platform size unknown"
    if learners <= small_limit:
        return "in_process", f"{learners:,} learners <= SMALL_PLATFORM_LEARNERS={small_limit:,}"
    return "multiprocess", f"{learners:,} learners > SMALL_PLATFORM_LEARNERS={small_limit:,}"


def _kind_field(kind: str, default: str) -> dg.Field:
    """The config of ``kind``: its own schema for the local kinds and the default kind; for another
    optional kind a permissive field (its package is imported, and the config checked against its
    schema, only when a run selects it — a step process never pays for dagster-k8s)."""
    if kind in _LOCAL or kind == default:
        definition = kind_definition(kind)
        if definition is not None:
            return definition.config_schema.as_field()
    if not _installed(kind):
        return dg.Field(dg.Permissive(), description=f"Needs {_needs(kind)}.")
    return dg.Field(dg.Permissive(), description=f"{_OPTIONAL[kind][1]}'s config ({_OPTIONAL[kind][2]}), checked when "
                    f"the run starts; DAGSTER_EXECUTOR={kind} shows its full schema here.")


def _checked_config(kind: str, definition: dg.ExecutorDefinition, config: Mapping[str, Any] | None) -> dict:
    """``config`` validated against the kind's own schema, with its defaults (a permissive field took it)."""
    result = process_config(definition.config_schema.config_type, config or {})
    if not result.success:
        raise dg.DagsterInvalidConfigError(f"Invalid config of the {kind} executor", result.errors, config)
    return result.value


def _from_environment(name: str) -> Any:
    """A StringSource value: ``{"env": name}`` when set (no secret in the run config), else its default."""
    return {"env": name} if env_is_set(name) else env(name)


def _default_kind_config(kind: str) -> dict[str, Any]:
    if kind == "celery":
        return {"broker": _from_environment("CELERY_BROKER_URL"), "backend": _from_environment("CELERY_RESULT_BACKEND")}
    return {}


START_METHODS = ("forkserver", "spawn")


def start_method() -> str:
    """``DAGSTER_START_METHOD``: how the multiprocess executor starts a step's process."""
    method = env("DAGSTER_START_METHOD").strip().lower() or "forkserver"
    if method not in START_METHODS:
        raise dg.DagsterInvariantViolationError(
            f"DAGSTER_START_METHOD={method!r} is not one of {', '.join(START_METHODS)} "
            f"({ENVIRONMENT['DAGSTER_START_METHOD'][1]})."
        )
    return method


def with_start_method(kind: str, config: Mapping[str, Any] | None, module: str | None = None) -> dict:
    """A multiprocess config without ``start_method`` gets ``DAGSTER_START_METHOD``'s. With
    forkserver, the server process preloads ``module`` (the job's module; default the code
    location), what a step imports to open the Dagster instance (``STEP_IMPORTS_MODULE``) and Great
    Expectations (``GX_MODULE``) — named explicitly: Dagster preloads only
    itself when ``preload_modules`` is absent from the config — so a step forks with Dagster,
    the instance's storage, pandas, GX and the definitions already imported. The code location imports no connection, thread or server
    (tests/scaling/test_executors.py checks it), so nothing is shared by the forks."""
    config = dict(config or {})
    if kind == "multiprocess" and "start_method" not in config:
        method = start_method()
        config["start_method"] = {method: {"preload_modules": forkserver_preload(module)} if method == "forkserver" else {}}
    return config


def forkserver_preload(module: str | None = None) -> list[str]:
    """What the forkserver imports before it forks a step (``with_start_method``)."""
    return [module or DEFINITIONS_MODULE, STEP_IMPORTS_MODULE, GX_MODULE]


def start_forkserver(module: str | None = None) -> int | None:
    """Start the multiprocess executor's forkserver now, with the preload list its config gives
    (``forkserver_preload``); returns its pid (None when steps are not started by a forkserver).

    The server is a new interpreter that imports the code location, the instance's storage and GX
    before it forks the first step: 5-10 s, which the run's first step waited for
    (``startup_seconds`` of the first step in the benchmark). Started while this process still
    loads the code location itself, the two imports overlap on the machine's two cores. The
    executor then finds it running and reuses it (multiprocessing starts one per process; a changed
    preload list does not restart it, steps then import the rest themselves).

    Every step inherits the server's environment, not the one of the moment the step starts: call
    it only when the environment the steps need (``DATABASE_URL``, ``DAGSTER_PG_URL``,
    ``LMS_API_URL`` ...) is final."""
    if start_method() != "forkserver":
        return None
    import multiprocessing
    from multiprocessing import forkserver

    preload = ["dagster._core.executor.multiprocess", *forkserver_preload(module)]  # as Dagster's executor
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    forkserver.ensure_running()
    return forkserver._forkserver._forkserver_pid  # noqa: SLF001 - the server multiprocessing started


def _module(job) -> str | None:
    """The module a reconstructable job is loaded from (None for another kind of code pointer)."""
    get_module = getattr(job, "get_module", None)
    return get_module() if callable(get_module) else None


def _requirements(config: Mapping[str, object]) -> list:
    selected = config.get("executor") or {}
    return [] if "in_process" in selected else multiple_process_executor_requirements()


class RunLockedExecutor(Executor):
    """Runs ``inner`` while holding the (job, partition) advisory lock."""

    def __init__(self, inner: Executor, kind: str, wait_seconds: int, enabled: bool):
        self.inner, self.kind, self.wait_seconds, self.enabled = inner, kind, wait_seconds, enabled

    @property
    def retries(self):
        return self.inner.retries

    @property
    def step_dependency_config(self):
        return self.inner.step_dependency_config

    def __getattr__(self, name):  # anything else a caller asks of the real executor (Celery: app_args)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        if self.kind == "in_process":  # the steps run in this process: GX, scikit-learn imported while they wait on I/O
            from analytics_pipeline.orchestration import warmup

            warmup.start(execution_plan.step_keys_to_execute, plan_context.run_config,
                         plan_context.dagster_run.tags.get(PARTITION_TAG))
        if not self.enabled:
            yield from self.inner.execute(plan_context, execution_plan)
            return
        run = plan_context.dagster_run
        lock = RunLock.for_run(plan_context.instance, run.job_name, run.tags.get(PARTITION_TAG), run.run_id)
        if lock is None:
            yield from self.inner.execute(plan_context, execution_plan)
            return
        with lock:
            lock.acquire(self.wait_seconds)
            yield dg.DagsterEvent.engine_event(
                plan_context,
                f"Run lock {lock.label!r} taken ({self.kind} executor).",
                EngineEventData({"run_lock": lock.label, "executor": self.kind}),
            )
            yield from self.inner.execute(plan_context, execution_plan)


def lock_key(job_name: str, partition: str | None) -> tuple[int, int]:
    """The two-int advisory lock key of (job, partition): a stable 31-bit hash of both."""
    digest = hashlib.sha256(f"{job_name}|{partition or ''}".encode()).digest()
    return LOCK_NAMESPACE, int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _lock_database_url(instance) -> str | None:
    storage = getattr(instance, "run_storage", None)
    url = getattr(storage, "postgres_url", None)
    if url:
        return url
    return env("DATABASE_URL") or None


class RunLock:
    """A transaction-level advisory lock held for as long as the context is open."""

    def __init__(self, database_url: str, job_name: str, partition: str | None, run_id: str):
        self.database_url, self.job_name, self.partition, self.run_id = database_url, job_name, partition, run_id
        self.key = lock_key(job_name, partition)
        self.label = f"{job_name}[{partition}]" if partition else job_name
        self.connection = None

    @classmethod
    def for_run(cls, instance, job_name: str, partition: str | None, run_id: str) -> RunLock | None:
        url = _lock_database_url(instance)
        if not url:
            log.warning("no PostgreSQL for the run lock of %s: runs of the same partition are not serialised", job_name)
            return None
        return cls(url, job_name, partition, run_id)

    def __enter__(self) -> RunLock:
        import psycopg

        from analytics_pipeline.warehouse.urls import libpq_url

        self.connection = psycopg.connect(
            libpq_url(self.database_url), prepare_threshold=None, connect_timeout=10,
            application_name=f"dagster-run-lock {self.run_id}"[:63],
        )
        # idle in transaction for the whole run: never killed for it, and no snapshot is held
        self.connection.execute("set local idle_in_transaction_session_timeout = 0")
        return self

    def _try(self) -> bool:
        return bool(self.connection.execute("select pg_try_advisory_xact_lock(%s, %s)", self.key).fetchone()[0])

    def holder(self) -> str:
        """Who holds the lock: the application_name of the holding session (``dagster-run-lock <run id>``)."""
        row = self.connection.execute(
            "select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.classid = %s and l.objid = %s and l.objsubid = 2 and l.granted "
            "and l.database = (select oid from pg_database where datname = current_database())",
            (self.key[0], self.key[1]),
        ).fetchone()
        return row[0] if row and row[0] else "another session"

    def acquire(self, wait_seconds: int = 0) -> None:
        deadline = time.monotonic() + max(0, wait_seconds)
        while not self._try():
            if time.monotonic() >= deadline:
                holder = self.holder().replace("dagster-run-lock ", "run ")
                raise RunLockedError(
                    f"{self.label} is already being materialized by {holder}; this run stopped before its "
                    f"first step and changed nothing. Wait for that run to finish (or cancel it), then re-run. "
                    f"(run_lock.wait_seconds={wait_seconds})"
                )
            time.sleep(1)

    def __exit__(self, *exc) -> None:
        if self.connection is not None:
            try:
                self.connection.rollback()  # ends the transaction: the lock goes
            finally:
                self.connection.close()
                self.connection = None


def select_executor(kind: str | None = None) -> dg.ExecutorDefinition:
    """The jobs' executor: ``kind`` (default ``DAGSTER_EXECUTOR``) unless the run config picks another."""
    kind = kind or default_kind()
    if kind not in KINDS:
        raise dg.DagsterInvariantViolationError(f"executor kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind_definition(kind) is None:
        raise dg.DagsterInvariantViolationError(
            f"DAGSTER_EXECUTOR={kind} needs {_needs(kind)} (or choose in_process / multiprocess)."
        )

    @dg.executor(
        name=EXECUTOR_NAME,
        config_schema={
            "executor": dg.Field(
                dg.Selector({name: _kind_field(name, kind) for name in KINDS}),
                default_value={kind: _default_kind_config(kind)},
                description="in_process | multiprocess | celery | k8s, each with its own config (default: DAGSTER_EXECUTOR).",
            ),
            "run_lock": dg.Field(
                {
                    "enabled": dg.Field(bool, default_value=True),
                    "wait_seconds": dg.Field(
                        int, default_value=0,
                        description="How long a run waits for another run of the same job and partition; then it fails.",
                    ),
                },
                description="The (job, partition) advisory lock held for the whole run.",
            ),
        },
        requirements=_requirements,
    )
    def analytics_pipeline_executor(init_context: InitExecutorContext) -> Executor:
        (chosen, chosen_config), = init_context.executor_config["executor"].items()
        definition = kind_definition(chosen)
        if definition is None:
            raise dg.DagsterInvariantViolationError(f"The {chosen} executor needs {_needs(chosen)}.")
        if chosen in _OPTIONAL and chosen != kind:
            chosen_config = _checked_config(chosen, definition, chosen_config)
        inner = definition.executor_creation_fn(
            InitExecutorContext(
                job=init_context.job, executor_def=definition,
                executor_config=with_start_method(chosen, chosen_config, _module(init_context.job)),
                instance=init_context.instance,
            )
        )
        run_lock = init_context.executor_config["run_lock"]
        return RunLockedExecutor(inner, chosen, run_lock["wait_seconds"], run_lock["enabled"])

    return analytics_pipeline_executor
