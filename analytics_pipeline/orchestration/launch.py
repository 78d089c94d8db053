"""What `make run` and `make ui` do: prepare the environment, start the sandbox LMS when no
LMS_API_URL is given, then hand over to Dagster (its CLI, so runs land in the Postgres instance
and the job's own executor is used)."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pandas as pd
import requests

from analytics_pipeline.orchestration.table_counts import row_counts
from analytics_pipeline.orchestration.child_server import wait_until_healthy
from analytics_pipeline.orchestration.process_group import StopRequested, run_until_signalled, stop_on_signals
from analytics_pipeline.runtime import prepare_environment
from analytics_pipeline.settings import PROJECT_ROOT, Settings
from analytics_pipeline.warehouse.engine import make_engine
from analytics_pipeline.warehouse.errors import WarehouseError

log = logging.getLogger(__name__)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def sandbox_if_needed(settings: Settings) -> Iterator[str]:
    """Yield the LMS API URL: LMS_API_URL when set, else a sandbox server started for the duration
    (none when an xAPI LRS alone is the source: XAPI_LRS_URL with XAPI_ROSTERS=lrs)."""
    if settings.lms_api_url or (settings.xapi_lrs_url and settings.xapi_rosters == "lrs"):
        yield settings.lms_api_url or settings.xapi_lrs_url
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
    process = subprocess.Popen(command, cwd=PROJECT_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
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


def default_partition(api_url: str, token: str) -> str:
    """The source's last complete day: the sandbox's clock when it has one, else yesterday (UTC)."""
    with contextlib.suppress(requests.RequestException, ValueError, KeyError):
        state = requests.get(f"{api_url}/_sandbox/state", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        if state.ok:
            now = pd.Timestamp(state.json()["now"])
            return (now.tz_convert("UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()
    return (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()


def print_summary(database_url: str) -> None:
    engine = make_engine(database_url)
    print("\nRows in the warehouse:")
    with engine.connect() as conn:
        counts = row_counts(conn)
    for table, count in counts.items():
        print(f"  {table:34} {count if count is not None else '-':>10}")


def _execute(job: str, partition: str) -> subprocess.CompletedProcess:
    return subprocess.run([
        sys.executable, "-m", "dagster", "job", "execute", "-m", "analytics_pipeline.definitions",
        "-j", job, "--tags", json.dumps({"dagster/partition": partition}),
    ], cwd=PROJECT_ROOT)


def run_pipeline(settings: Settings, partition: str | None = None, job: str = "nightly") -> int:
    environment = prepare_environment(settings)
    with sandbox_if_needed(settings) as api_url:
        partition = partition or default_partition(api_url, settings.lms_api_token)
        print(f"Running job {job!r} for {partition} against {api_url}")
        started = time.monotonic()
        result = _execute(job, partition)
        elapsed = time.monotonic() - started
        if result.returncode != 0 and job == "nightly":
            # no daemon here to run the legal_duties sensor: retention and erasure run all the same
            print(f"Job 'nightly' failed: running 'legal_duties' (retention, erasure) for {partition}", file=sys.stderr)
            duties = _execute("legal_duties", partition)
            print(f"legal_duties {'succeeded' if duties.returncode == 0 else 'FAILED'}", file=sys.stderr)
    if result.returncode != 0:
        print(f"error: job {job!r} failed after {elapsed:.0f} s (exit {result.returncode}); see the log above "
              "or the run in the UI (`make ui`).", file=sys.stderr)
        return result.returncode
    print_summary(environment.database_url)
    print(f"\nJob {job!r} for {partition} succeeded in {elapsed:.1f} s.")
    return 0


def run_ui(settings: Settings, port: int = 3000) -> int:
    """`make ui`: the sandbox (when needed) and `dagster dev`, stopped together — with every process
    they started — on Ctrl-C, SIGTERM or SIGHUP (orchestration/process_group.py)."""
    try:
        with stop_on_signals():
            prepare_environment(settings)
            if not port_is_free(port):
                raise WarehouseError(f"Port {port} is taken: stop what runs there or pass --port (make ui UI_PORT=...).")
            with sandbox_if_needed(settings):
                command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
                print(f"Dagster UI on http://127.0.0.1:{port} (with the daemon; Ctrl-C stops both)", flush=True)
                return run_until_signalled(command, cwd=PROJECT_ROOT)
    except StopRequested as stop:
        return 128 + stop.signum
