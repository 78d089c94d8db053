"""`make ui` stops every process it started — sandbox, `dagster dev`, webserver, daemon, code
servers, multiprocessing helpers — on Ctrl-C (SIGINT to the terminal's process group), on SIGTERM
(to `make` alone, as `kill <pid>` or a process supervisor sends it), on SIGTERM during start-up and
when `make` itself is killed, within 10 s of the signal.

Every process of the UI carries the test's marker in its environment and the UI's or the sandbox's
port on its command line: that is how the checks, and the clean-up that runs even when a test
fails, find them whatever session, process group or parent they ended up with."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from analytics_pipeline.orchestration.launch import free_port, port_is_free
from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.engine import drop_database
from analytics_pipeline.warehouse.urls import dagster_database_for

MARKER = "AP_UI_SIGNAL_TEST"
STOP_BOUND_SECONDS = 10.0   # issue 20: every process gone within 10 s of the signal
WATCH_SECONDS = 30.0        # how long a failing stop is watched, to say what is left
START_TIMEOUT_SECONDS = 300  # start-up takes 60+ s on a loaded 2-core machine
SIGNALS_TO_DEFAULT = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
WORKSPACE_QUERY = "query { workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"


@dataclass
class Ui:
    make: subprocess.Popen
    marker: str
    port: int
    sandbox_port: int
    log: Path

    def processes(self) -> list[psutil.Process]:
        """Every live process of this UI: the marker in its environment (all of `make ui`'s
        descendants inherit it), or its ports on its command line, and their descendants."""
        found: dict[int, psutil.Process] = {}
        ports = {str(self.port), str(self.sandbox_port)}
        for proc in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                cmdline = proc.info["cmdline"] or []
                by_port = any(flag in ("-p", "--port") and value in ports for flag, value in zip(cmdline, cmdline[1:]))
                if by_port or proc.environ().get(MARKER) == self.marker:
                    found[proc.pid] = proc
                    for child in proc.children(recursive=True):
                        found.setdefault(child.pid, child)
        return [p for p in found.values() if _alive(p)]

    def describe(self, processes: list[psutil.Process] | None = None) -> str:
        names = []
        for proc in self.processes() if processes is None else processes:
            with contextlib.suppress(psutil.Error):
                names.append(f"{proc.pid} {' '.join(proc.cmdline())[:100]}")
        tail = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
        return f"{names}\n--- make ui's output (end) ---\n{tail}"


def _alive(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    return False


def _ignored_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    return 0


def _as_a_shell_starts_a_job() -> None:
    """In the child before exec: default stop signals, none blocked. The test process may ignore
    SIGTERM: when pytest starts with SIGINT ignored (a background job of a non-interactive shell),
    every in-process Dagster execution of an earlier test copies SIGINT's handler onto SIGTERM
    (dagster._utils.interrupts), and GNU make keeps ignoring a signal that was ignored when it
    started — SIGTERM to make would then do nothing at all."""
    for sig in SIGNALS_TO_DEFAULT:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS_TO_DEFAULT)
    os.setsid()  # its own session and process group, like a terminal's foreground job


def _loaded(port: int) -> bool:
    with contextlib.suppress(requests.RequestException, KeyError, TypeError, ValueError):
        answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": WORKSPACE_QUERY}, timeout=5).json()
        entries = answer["data"]["workspaceOrError"]["locationEntries"]
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)
    return False


def _wait_for(ui: Ui, ready, what: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert ui.make.poll() is None, f"make ui exited early with {ui.make.returncode}: {ui.describe()}"
        if ready():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout} s: {ui.describe()}")


def _kill_everything(ui: Ui) -> list[str]:
    """SIGKILL every process of ``ui`` (make's group, then whatever the marker or ports find,
    `dagster dev`'s own session included); return what survived."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(ui.make.pid, signal.SIGKILL)
    for _ in range(5):
        left = ui.processes()
        if not left:
            break
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(left, timeout=3)
    with contextlib.suppress(subprocess.TimeoutExpired):
        ui.make.wait(timeout=5)
    return [" ".join(p.cmdline())[:100] for p in ui.processes()]


@pytest.fixture
def make_ui(warehouse_url, pg_server_url, tmp_path):
    """Start `make ui` (its own session, like a shell's foreground job) against the test warehouse,
    with the sandbox LMS; ``start(loaded=True)`` returns the :class:`Ui` once its code location is
    loaded, ``loaded=False`` as soon as `dagster dev` runs. Afterwards every process of every UI
    started is killed, whether the test passed or not, and the test errors if any survived."""
    started: list[Ui] = []

    def start(loaded: bool = True) -> Ui:
        marker, port, sandbox_port = uuid.uuid4().hex, free_port(), free_port()
        venv = Path(sys.prefix)
        env = {**os.environ, MARKER: marker, "DATABASE_URL": warehouse_url, "SANDBOX_PORT": str(sandbox_port),
               "REPORTS_DIR": str(tmp_path / "reports")}
        for name in ("LMS_API_URL", "DAGSTER_PG_URL", "DAGSTER_HOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(name, None)
        log = tmp_path / f"make-ui-{marker}.log"
        with open(log, "w") as out:
            # -o: never (re)install into the venv running the tests
            make = subprocess.Popen(["make", "-C", str(PROJECT_ROOT), "ui", f"UI_PORT={port}", f"VENV={venv}",
                                     "-o", str(venv / ".installed")], env=env, stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=_as_a_shell_starts_a_job)
        ui = Ui(make, marker, port, sandbox_port, log)
        started.append(ui)
        ignored = _ignored_signals(make.pid)
        assert not ignored & (1 << (signal.SIGTERM - 1) | 1 << (signal.SIGINT - 1)), f"make ignores {ignored:#x}"
        if loaded:
            _wait_for(ui, lambda: _loaded(port), "the UI loaded")
            time.sleep(3)  # the daemon's threads and the code servers settle
        else:
            _wait_for(ui, lambda: any("dagster dev" in " ".join(p.cmdline()) for p in ui.processes()), "dagster dev ran")
        return ui

    yield start
    survivors = {ui.marker: _kill_everything(ui) for ui in started}
    drop_database(pg_server_url, dagster_database_for(warehouse_url))
    assert not any(survivors.values()), f"processes that survived SIGKILL: {survivors}"


def _stop_and_time(ui: Ui, send, expect_full: bool = True) -> float:
    before = ui.processes()
    names = " ".join(sorted({" ".join(p.cmdline()[1:4]) for p in before}))
    if expect_full:
        assert len(before) >= 6, f"expected make, the CLI, the sandbox and dagster's processes, found: {names}"
        for part in ("dagster_webserver", "dagster._daemon", "analytics_pipeline.sandbox"):
            assert any(part in " ".join(p.cmdline()) for p in before), f"no {part} among {names}"
    started = time.monotonic()
    send()
    while time.monotonic() - started < WATCH_SECONDS:
        if ui.make.poll() is not None and not ui.processes():
            elapsed = time.monotonic() - started
            print(f"{len(before)} processes stopped {elapsed:.1f} s after the signal")  # shown with -s
            assert port_is_free(ui.port) and port_is_free(ui.sandbox_port)
            return elapsed
        time.sleep(0.2)
    raise AssertionError(f"processes left {WATCH_SECONDS:.0f} s after the signal: {ui.describe()}")


@pytest.mark.slow
def test_ctrl_c_stops_every_process(make_ui):
    ui = make_ui()
    elapsed = _stop_and_time(ui, lambda: os.killpg(ui.make.pid, signal.SIGINT))
    assert elapsed <= STOP_BOUND_SECONDS, f"stopped after {elapsed:.1f} s"
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{ui.port}/server_info", timeout=2)


@pytest.mark.slow
def test_sigterm_to_make_stops_every_process(make_ui):
    ui = make_ui()
    elapsed = _stop_and_time(ui, ui.make.terminate)
    assert elapsed <= STOP_BOUND_SECONDS, f"stopped after {elapsed:.1f} s"
    assert ui.make.returncode != 0


@pytest.mark.slow
def test_sigterm_during_start_up_stops_every_process(make_ui):
    """The signal lands while `dagster dev` is still starting its webserver, daemon and code servers."""
    ui = make_ui(loaded=False)
    elapsed = _stop_and_time(ui, ui.make.terminate, expect_full=False)
    assert elapsed <= STOP_BOUND_SECONDS, f"stopped after {elapsed:.1f} s"


@pytest.mark.slow
def test_make_killed_stops_every_process(make_ui):
    """`make` killed outright (SIGKILL: `kill -9`, the OOM killer) cannot pass anything on; the
    wrapper learns of its death from the kernel and stops the rest."""
    ui = make_ui()
    elapsed = _stop_and_time(ui, ui.make.kill)
    assert elapsed <= STOP_BOUND_SECONDS, f"stopped after {elapsed:.1f} s"
