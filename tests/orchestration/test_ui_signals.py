"""`make ui` stops every process it started — sandbox, `dagster dev`, webserver, daemon, code
servers, multiprocessing helpers — on Ctrl-C (SIGINT to the terminal's process group) and on
SIGTERM (to `make` alone, as `kill <pid>` or a process supervisor sends it), within 10 s."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests

from analytics_pipeline.orchestration.launch import free_port
from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.engine import drop_database
from analytics_pipeline.warehouse.urls import dagster_database_for

MARKER = "AP_UI_SIGNAL_TEST"
STOP_BOUND_SECONDS = 10.0
WORKSPACE_QUERY = "query { workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"


def _marked(marker: str) -> list[psutil.Process]:
    """Every process whose environment carries the test's marker (all of `make ui`'s descendants
    inherit it, whatever session or parent they end up with)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and proc.environ().get(MARKER) == marker and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def _wait_until_loaded(port: int, make: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert make.poll() is None, f"make ui exited early with {make.returncode}"
        with contextlib.suppress(requests.RequestException, KeyError, TypeError, ValueError):
            answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": WORKSPACE_QUERY}, timeout=5).json()
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        time.sleep(1)
    raise AssertionError(f"the UI did not load within {timeout} s")


@pytest.fixture
def make_ui(warehouse_url, pg_server_url, tmp_path):
    """Start `make ui` (its own process group, like a shell's foreground job) against the test
    warehouse, with the sandbox LMS; yield (process, marker, port)."""
    started: list[subprocess.Popen] = []

    def start():
        marker = uuid.uuid4().hex
        port = free_port()
        venv = Path(sys.prefix)
        env = {**os.environ, MARKER: marker, "DATABASE_URL": warehouse_url, "SANDBOX_PORT": str(free_port()),
               "REPORTS_DIR": str(tmp_path / "reports")}
        for name in ("LMS_API_URL", "DAGSTER_PG_URL", "DAGSTER_HOME"):
            env.pop(name, None)
        log = open(tmp_path / f"make-ui-{marker}.log", "w")
        # -o: never (re)install into the venv running the tests
        make = subprocess.Popen(["make", "-C", str(PROJECT_ROOT), "ui", f"UI_PORT={port}", f"VENV={venv}",
                                 "-o", str(venv / ".installed")], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        started.append(make)
        _wait_until_loaded(port, make)
        time.sleep(3)  # the daemon's threads and the code servers settle
        return make, marker, port

    yield start
    for make in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
    drop_database(pg_server_url, dagster_database_for(warehouse_url))


def _stop_and_time(make: subprocess.Popen, marker: str, send) -> float:
    before = _marked(marker)
    names = " ".join(sorted({" ".join(p.cmdline()[1:4]) for p in before}))
    assert len(before) >= 6, f"expected make, the CLI, the sandbox and dagster's processes, found: {names}"
    assert any("dagster_webserver" in " ".join(p.cmdline()) for p in before)
    assert any("dagster._daemon" in " ".join(p.cmdline()) for p in before)
    assert any("analytics_pipeline.sandbox" in " ".join(p.cmdline()) for p in before)
    started = time.monotonic()
    send()
    while time.monotonic() - started < 30:
        if make.poll() is not None and not _marked(marker):
            elapsed = time.monotonic() - started
            print(f"{len(before)} processes stopped {elapsed:.1f} s after the signal")  # shown with -s
            return elapsed
        time.sleep(0.2)
    left = [" ".join(p.cmdline())[:100] for p in _marked(marker)]
    raise AssertionError(f"processes left 30 s after the signal: {left}")


@pytest.mark.slow
def test_ctrl_c_stops_every_process(make_ui):
    make, marker, port = make_ui()
    elapsed = _stop_and_time(make, marker, lambda: os.killpg(make.pid, signal.SIGINT))
    assert elapsed <= STOP_BOUND_SECONDS, f"stopped after {elapsed:.1f} s"
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2)


@pytest.mark.slow
def test_sigterm_to_make_stops_every_process(make_ui):
    make, marker, _ = make_ui()
    elapsed = _stop_and_time(make, marker, make.terminate)
    assert elapsed <= STOP_BOUND_SECONDS, f"stopped after {elapsed:.1f} s"
