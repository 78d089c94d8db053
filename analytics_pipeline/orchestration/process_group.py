"""Run a long-lived child (``dagster dev``) so that everything it starts stops with it.

``dagster dev`` starts a webserver, a daemon, code servers (gRPC) and multiprocessing helpers.
Left to the terminal's signals they outlive their parent (Ctrl-C reaches every process of the
foreground group at once and the shutdown handshake over pipes breaks; SIGTERM to ``make`` reaches
only ``make`` and this wrapper). So the child runs in a session of its own; this process catches
SIGINT, SIGTERM and SIGHUP, asks the child to stop (SIGINT: ``dagster dev``'s own graceful
shutdown), and after ``grace`` seconds kills whatever of the child's process tree and process group
is still alive, while the sandbox stops beside it. Total stop time: ``grace`` (3 s) + ~1-3 s on a loaded machine.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(Exception):
    """A stop signal arrived (SIGINT, SIGTERM or SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _tree(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [process, *process.children(recursive=True)]
    return []


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
    return members


def _alive(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    return False


def stop_process_tree(process: subprocess.Popen, grace: float = 3.0, first_signal: int = signal.SIGINT) -> None:
    """Ask ``process`` to stop with ``first_signal``; after ``grace`` seconds SIGKILL every process of
    its tree and its process group still alive (descendants are remembered from the first signal on,
    so children re-parented to init when their parent exits are found too)."""
    pgid = process.pid  # start_new_session=True: the child leads its own group
    known: dict[int, psutil.Process] = {}
    with contextlib.suppress(psutil.Error):
        known.update((p.pid, p) for p in _tree(psutil.Process(process.pid)))
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, first_signal)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for proc in list(known.values()):  # children born late (a code server starting right now)
            for child in _tree(proc):
                known.setdefault(child.pid, child)
        if process.poll() is not None and not any(_alive(p) for p in known.values()):
            break
        time.sleep(0.2)
    for proc in [*known.values(), *_group_members(pgid)]:
        with contextlib.suppress(psutil.Error):
            if _alive(proc):
                proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1)
    psutil.wait_procs([p for p in known.values() if _alive(p)], timeout=1)


@contextlib.contextmanager
def stop_on_signals():
    """Within the block SIGINT, SIGTERM and SIGHUP raise :class:`StopRequested` (so ``finally``
    clauses run: a sandbox started before the UI is stopped too); the previous handlers come back
    after it."""
    def _raise(signum, _frame):
        raise StopRequested(signum)

    previous = {sig: signal.signal(sig, _raise) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminate_siblings(child_pid: int) -> None:
    """SIGTERM to this process's other children (the sandbox LMS started before the UI), so they
    stop while ``dagster dev`` does, not one after the other; their owners still wait for them."""
    with contextlib.suppress(psutil.Error):
        for proc in psutil.Process().children():
            if proc.pid != child_pid:
                with contextlib.suppress(psutil.Error):
                    proc.terminate()


def run_until_signalled(command: Sequence[str], cwd: Path, grace: float = 3.0) -> int:
    """Run ``command`` in a session of its own until it exits or :class:`StopRequested` is raised
    (inside :func:`stop_on_signals`); then stop its whole tree (:func:`stop_process_tree`).
    Returns the child's exit code, or 128 + the signal number when stopped by a signal."""
    process = subprocess.Popen(list(command), cwd=cwd, start_new_session=True)
    try:
        code = process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):  # what it left behind in its group
            os.killpg(process.pid, signal.SIGKILL)
        return code
    except StopRequested as stop:
        for sig in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        _terminate_siblings(process.pid)
        stop_process_tree(process, grace=grace)
        return 128 + stop.signum
    finally:
        if process.poll() is None:
            stop_process_tree(process, grace=grace)
