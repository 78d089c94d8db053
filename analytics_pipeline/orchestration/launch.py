"""What `make run` and `make ui` do: prepare the environment, start the sandbox LMS when no
LMS_API_URL is given, then hand over to Dagster. `make run` executes the job in this process
(``dagster.execute_job`` on the Postgres instance, so the run is in the UI) with an executor fit
for the platform's size, and shows it through :mod:`orchestration.display`; `make ui` runs
`dagster dev`."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd
import requests

from analytics_pipeline.orchestration.child_server import wait_until_healthy
from analytics_pipeline.orchestration.display import RunDisplay, describe_steps, wrapped
from analytics_pipeline.orchestration.executors import (
    DEFINITIONS_MODULE, EXECUTOR_NAME, PARTITION_TAG, default_kind, kind_for_platform, start_forkserver,
)
from analytics_pipeline.orchestration.process_group import (
    ProcessTree,
    StopRequested,
    parent_ignores_sigterm,
    run_until_signalled,
    spawning,
    stop_on_signals,
)
from analytics_pipeline.warehouse.table_counts import row_counts
from analytics_pipeline.runtime import prepare_environment
from analytics_pipeline.settings import PROJECT_ROOT, Settings
from analytics_pipeline.warehouse.engine import make_engine
from analytics_pipeline.warehouse.errors import WarehouseError

log = logging.getLogger(__name__)
LAUNCH_TAG = "analytics_pipeline/launch"  # finds the run `make run` started (its id is made inside execute_job)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configured_source(settings: Settings) -> str | None:
    """The configured source's URL: LMS_API_URL, else an xAPI LRS that supplies the rosters
    (XAPI_LRS_URL with XAPI_ROSTERS=lrs); None (or empty) when the run needs the sandbox."""
    return settings.lms_api_url or (settings.xapi_lrs_url if settings.xapi_rosters == "lrs" else None)


@contextlib.contextmanager
def sandbox_if_needed(settings: Settings, while_starting: Callable[[], None] | None = None) -> Iterator[str]:
    """Yield the LMS API URL: LMS_API_URL when set, else a sandbox server started for the duration
    (none when an xAPI LRS alone is the source: XAPI_LRS_URL with XAPI_ROSTERS=lrs).
    ``while_starting()`` runs while the sandbox builds its data (before the yield in any case)."""
    while_starting = while_starting or (lambda: None)
    configured = configured_source(settings)
    if configured:
        while_starting()
        yield configured
        return
    port = settings.sandbox_port
    if not port_is_free(port):
        chosen = free_port()
        log.warning("port %s is taken; starting the sandbox LMS on port %s instead", port, chosen)
        port = chosen
    command = [
        sys.executable, "-m", "analytics_pipeline.sandbox", "--port", str(port),
        "--profile", settings.sandbox_profile, "--seed", str(settings.sandbox_seed), "--token", settings.lms_api_token,
    ]
    if settings.sandbox_replay:
        command += ["--replay", settings.sandbox_replay, "--at", settings.sandbox_replay_at]
    with spawning():  # under `make ui`, a stop signal arriving meanwhile is raised once we hold the process
        process = subprocess.Popen(command, cwd=PROJECT_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        while_starting()
        try:
            wait_until_healthy(process, url, timeout=120)
        except RuntimeError as exc:
            raise WarehouseError(f"The sandbox LMS server did not start: {exc}; see its output above.") from None
        log.info("sandbox LMS server at %s (%s)", url, f"replay of {settings.sandbox_replay} at {settings.sandbox_replay_at}"
                 if settings.sandbox_replay else f"profile {settings.sandbox_profile}")
        os.environ["LMS_API_URL"] = url
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def source_state(api_url: str, token: str) -> dict | None:
    """The sandbox's ``/_sandbox/state`` (its clock and row counts); None for a real platform."""
    with contextlib.suppress(requests.RequestException, ValueError):
        state = requests.get(f"{api_url}/_sandbox/state", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        if state.ok:
            return state.json()
    return None


def default_partition(api_url: str, token: str) -> str:
    """The source's last complete day: the sandbox's clock when it has one, else yesterday (UTC)."""
    return partition_of(source_state(api_url, token))


def partition_of(state: dict | None) -> str:
    """The last complete day of a source whose ``/_sandbox/state`` is ``state`` (None: yesterday, UTC)."""
    with contextlib.suppress(TypeError, ValueError, KeyError):
        now = pd.Timestamp(state["now"])
        return (now.tz_convert("UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()
    return (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()


def platform_learners(state: dict | None, database_url: str) -> int | None:
    """How many learners the platform has: the sandbox's count, else the warehouse's ``users``
    from earlier runs; None when neither knows (a first run against a real platform)."""
    with contextlib.suppress(TypeError, KeyError, ValueError):
        return int(state["counts"]["users"])
    with make_engine(database_url).connect() as conn:
        counts = row_counts(conn, ("users",))
    return counts["users"] or None


def warehouse_rows(database_url: str) -> dict[str, int | None]:
    with make_engine(database_url).connect() as conn:
        return row_counts(conn)


def _quiet_python_logging(verbose: bool) -> None:
    """Without --verbose only warnings of Python's loggers reach the terminal (yoyo's 'applying
    step N', the layers' INFO lines); the run's own messages are in its event log file."""
    if not verbose:  # on the handlers: some libraries (GX) set INFO on their own loggers
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.WARNING)


@dataclass(frozen=True)
class CodeLocation:
    """The project's definitions as `dagster job execute -m analytics_pipeline.definitions` loads
    them (reconstructable, so multiprocess/Celery/K8s steps load the same), and what the display
    needs to know of their steps."""

    reconstructable: object
    repository: object
    steps: dict
    check_descriptions: dict

    @classmethod
    def load(cls) -> CodeLocation:
        from dagster._core.definitions.reconstruct import ReconstructableRepository  # what `-m module` builds

        reconstructable = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs", working_directory=str(PROJECT_ROOT))
        repository = reconstructable.get_definition()
        return cls(reconstructable, repository, *describe_steps(repository))


def run_pipeline(settings: Settings, partition: str | None = None, job: str = "nightly", verbose: bool = False) -> int:
    verbose = verbose or settings.verbose
    _quiet_python_logging(verbose)
    ready: dict = {}

    def choose_executor(api_url: str) -> None:
        """The platform's state and the executor kind; a multiprocess run's forkserver started now
        (the steps' environment is final here), so it imports while this process goes on."""
        state = ready["state"] = source_state(api_url, settings.lms_api_token)
        learners = platform_learners(state, ready["environment"].database_url)
        kind, _reason = ready["kind"] = kind_for_platform(learners, settings.small_platform_learners)
        if kind == "multiprocess":
            start_forkserver(DEFINITIONS_MODULE)

    def prepare() -> None:  # while the sandbox builds its data
        environment = ready["environment"] = prepare_environment(settings)
        where = "embedded, left running for the next command: `make stop` stops it" if environment.embedded else "DATABASE_URL"
        print(f"Warehouse: PostgreSQL {environment.server_version.split(' ')[0]} ({where})")
        if environment.migrations_applied:  # one line for the batch: a new warehouse applies them all
            print(wrapped(f"  migrations applied ({len(environment.migrations_applied)}): ",
                          list(environment.migrations_applied), width=120))
        if configured := configured_source(settings):  # the source is known: decide before loading the code
            choose_executor(configured)
        ready["code"] = CodeLocation.load()

    with sandbox_if_needed(settings, while_starting=prepare) as api_url:
        environment = ready["environment"]
        if "kind" not in ready:  # the sandbox's URL is in the environment only now
            choose_executor(api_url)
        state, (kind, reason) = ready["state"], ready["kind"]
        partition = partition or partition_of(state)
        print(f"Job {job!r} for {partition} from {api_url}, {kind} executor ({reason})")
        started = time.monotonic()
        display = execute(settings, ready["code"], job, partition, kind, verbose)
        elapsed = time.monotonic() - started
    for line in display.summary(job, partition, warehouse_rows(environment.database_url)):
        print(line)
    if display.status != "succeeded" and job == "nightly":
        # no daemon here to run the legal_duties sensor: retention and erasure run all the same
        print(f"Job 'nightly' failed: running 'legal_duties' (retention, erasure) for {partition}", file=sys.stderr)
        duties = execute(settings, ready["code"], "legal_duties", partition, kind, verbose)
        print(f"legal_duties {'succeeded' if duties.status == 'succeeded' else 'FAILED'} "
              f"(run {duties.run_id}, event log {duties.log_path})", file=sys.stderr)
    if display.status != "succeeded":
        print(f"error: job {job!r} {display.status or 'did not run'} after {elapsed:.0f} s; the failed steps and the "
              "event log are named above.", file=sys.stderr)
        return 1
    return 0


def execute(settings: Settings, code: CodeLocation, job: str, partition: str, kind: str, verbose: bool) -> RunDisplay:
    """Execute ``job`` for ``partition`` in this process (its steps on ``kind``'s executor) and
    follow it in the event log; the display knows the outcome."""
    import dagster as dg

    launch = uuid.uuid4().hex
    tags = {PARTITION_TAG: partition, LAUNCH_TAG: launch}
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}}
    if code.repository.get_job(job).executor_def.name == EXECUTOR_NAME and kind != default_kind():
        run_config["execution"] = {"config": {"executor": {kind: {}}}}
    with dg.DagsterInstance.get() as instance:
        # a pooled connection for this process's event writes (Dagster opens one per event otherwise)
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
        remember_storage_schema(instance)
        display = RunDisplay(instance, code.steps, code.check_descriptions, settings.run_logs_dir, quiet=verbose)
        display.start(lambda: _launched_run(instance, launch))
        run_id = None
        try:
            result = dg.execute_job(code.reconstructable.get_reconstructable_job(job), instance,
                                    run_config=run_config, tags=tags, raise_on_error=False)
            run_id = result.run_id
        finally:
            display.finish(run_id or _launched_run(instance, launch))
    return display


def remember_storage_schema(instance) -> None:
    """Dagster's PostgreSQL event log (1.13) asks the catalog whether a table or an asset-key
    column exists on nearly every asset and check event: ~200 catalog round trips in an XS
    nightly. Dagster's storage schema does not change during a `make run` (its migrations ran
    when the instance was created), so this process's instance remembers each "yes"; a "no" is
    asked again. Skipped for a storage without these methods."""
    storage = getattr(instance, "event_log_storage", None)
    for name, leading in (("has_table", 0), ("_has_asset_key_col_on_connection", 1)):  # leading: the connection
        method = getattr(storage, name, None)
        if callable(method):
            setattr(storage, name, _remember_yes(method, leading))


def _remember_yes(method, leading: int):
    known: set = set()

    @functools.wraps(method)
    def remembered(*args):
        key = args[leading:]
        if key in known:
            return True
        answer = method(*args)
        if answer:
            known.add(key)
        return answer

    return remembered


def _launched_run(instance, launch: str) -> str | None:
    import dagster as dg

    runs = instance.get_run_ids(filters=dg.RunsFilter(tags={LAUNCH_TAG: launch}), limit=1)
    return runs[0] if runs else None


def run_ui(settings: Settings, port: int = 3000) -> int:
    """`make ui`: the sandbox (when needed) and `dagster dev`, stopped together — with every process
    they started — on Ctrl-C, SIGTERM or SIGHUP, or when `make` dies (orchestration/process_group.py);
    a signal during start-up stops whatever had started by then."""
    tree = ProcessTree()
    adopted = False
    with stop_on_signals():
        try:
            prepare_environment(settings)
            if not port_is_free(port):
                raise WarehouseError(f"Port {port} is taken: stop what runs there or pass --port (make ui UI_PORT=...).")
            if parent_ignores_sigterm():
                print(f"warning: the parent process (pid {os.getppid()}) ignores SIGTERM, so `kill` of it does not reach "
                      f"the UI; stop it with Ctrl-C or `kill {os.getpid()}`", file=sys.stderr, flush=True)
            tree.adopt()  # after the embedded PostgreSQL, which outlives `make ui`
            adopted = True
            with sandbox_if_needed(settings):
                command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
                print(f"Dagster UI on http://127.0.0.1:{port} (with the daemon; Ctrl-C stops both)", flush=True)
                return run_until_signalled(command, cwd=PROJECT_ROOT, tree=tree)
        except StopRequested as stop:
            return 128 + stop.signum
        finally:
            if adopted:  # whatever is still alive, e.g. after a signal during start-up
                tree.stop()
