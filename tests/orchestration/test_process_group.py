"""`orchestration/process_group.py` without Dagster: a child that ignores SIGINT and SIGTERM and
leaves a daemon behind (double fork + ``setsid``: another session, its parent gone) is stopped,
daemon included, when the wrapper gets SIGTERM or when the wrapper's own parent is killed."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import psutil
import pytest

from analytics_pipeline.settings import PROJECT_ROOT

MARKER = "AP_PROCESS_GROUP_TEST"

CHILD = textwrap.dedent("""
    import os, signal, time
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    if os.fork() == 0:          # the daemon: new session, then its parent exits
        os.setsid()
        if os.fork() == 0:
            time.sleep(300)
        os._exit(0)
    print("child ready", flush=True)
    time.sleep(300)
""")

WRAPPER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from analytics_pipeline.orchestration.process_group import (
        ProcessTree, StopRequested, run_until_signalled, stop_on_signals)
    tree = ProcessTree()
    with stop_on_signals():
        try:
            tree.adopt()
            sys.exit(run_until_signalled([sys.executable, "-c", sys.argv[1]], cwd=Path.cwd(), tree=tree, grace=1.0))
        except StopRequested as stop:
            sys.exit(128 + stop.signum)
        finally:
            tree.stop(grace=1.0)
""")


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and proc.status() != psutil.STATUS_ZOMBIE \
                    and proc.environ().get(MARKER) == marker:
                found.append(proc)
    return found


@pytest.fixture
def tree():
    """Start ``sh`` → wrapper → child → (detached) daemon, all carrying a marker; yield
    (sh, wrapper, marker) once all four run; kill whatever carries the marker afterwards."""
    marker = uuid.uuid4().hex
    env = {**os.environ, MARKER: marker, "PYTHONPATH": str(PROJECT_ROOT)}
    quoted = " ".join(f"'{a}'" for a in (sys.executable, "-c", WRAPPER, CHILD))
    shell = subprocess.Popen(["sh", "-c", f"{quoted}; exit $?"], env=env, cwd=PROJECT_ROOT, start_new_session=True,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert shell.stdout.readline().strip() == "child ready"
        wrapper = next(p for p in psutil.Process(shell.pid).children() if "-c" in p.cmdline())
        deadline, daemon, procs = time.monotonic() + 30, [], []
        while time.monotonic() < deadline and not (daemon and len(procs) == 4):
            time.sleep(0.1)
            procs = _marked(marker)  # sh, the wrapper, the child, the daemon (its parent gone)
            daemon = [p for p in procs if p.ppid() == wrapper.pid and os.getsid(p.pid) != p.pid]  # not the session leader
        assert daemon, "the detached daemon came back to the wrapper (child subreaper)"
        assert len(procs) == 4, [p.cmdline()[:2] for p in procs]
        yield shell, wrapper, marker
    finally:
        for proc in _marked(marker):
            with contextlib.suppress(psutil.Error):
                proc.kill()
        shell.wait(timeout=10)


def _gone_within(marker: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not _marked(marker):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"left after {seconds} s: {[p.cmdline()[:3] for p in _marked(marker)]}")


def test_sigterm_stops_the_child_and_its_detached_daemon(tree):
    shell, wrapper, marker = tree
    wrapper.send_signal(signal.SIGTERM)
    assert _gone_within(marker, 10) < 10
    assert shell.wait(timeout=5) == 128 + signal.SIGTERM


def test_a_killed_parent_stops_the_wrapper_and_everything_below(tree):
    shell, _wrapper, marker = tree
    shell.kill()
    assert _gone_within(marker, 10) < 10
