"""Run a long-lived child (``dagster dev``) so that everything it starts stops with it.

``dagster dev`` starts a webserver, a daemon, code servers (gRPC) and multiprocessing helpers.
Left to the terminal's signals they outlive their parent (Ctrl-C reaches every process of the
foreground group at once and the shutdown handshake over pipes breaks; SIGTERM to ``make`` reaches
only ``make``, which passes it on to this wrapper alone). So:

* the stop signals (SIGINT, SIGTERM, SIGHUP) are caught from the start of ``make ui`` on
  (:func:`stop_on_signals`), unblocked even when the parent left them blocked; the first one
  raises :class:`StopRequested`, later ones are ignored so they cannot cut the clean-up short; one
  arriving while a child is being spawned waits until its ``Popen`` is known
  (:func:`spawning`), so no child is started behind the clean-up's back;
* this process becomes a *child subreaper* (Linux ``prctl``): a descendant whose parent exits —
  or that detaches with ``setsid``/a double fork — is re-parented to this process, not to init,
  so :meth:`ProcessTree.ours` always sees every process started since :meth:`ProcessTree.adopt`;
* it asks the kernel for SIGHUP when its parent (``make``) dies, even by SIGKILL;
* on a stop, ``dagster dev`` gets SIGINT (its own graceful shutdown) and the other children
  SIGTERM; after ``grace`` seconds every process of the tree still alive is killed (SIGKILL).
  Total stop time: ``grace`` (3 s) + ~1-3 s on a loaded machine.

The embedded PostgreSQL that ``prepare_environment`` may start is meant to outlive ``make ui``
(``make stop`` stops it): it is started, and detached, before :meth:`ProcessTree.adopt`, which
leaves out whatever was already there.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class StopRequested(Exception):
    """A stop signal arrived (SIGINT, SIGTERM or SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _State:
    active = False        # inside stop_on_signals
    stopping = False      # a stop signal arrived: later ones are ignored
    spawning = 0          # inside spawning(): the signal waits
    pending: int | None = None


def _handler(signum, _frame):
    if _State.stopping:
        return
    _State.stopping = True
    if _State.spawning:
        _State.pending = signum
        return
    raise StopRequested(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block the first SIGINT, SIGTERM or SIGHUP raises :class:`StopRequested` (so
    ``finally`` clauses run: a sandbox started before the UI is stopped too) and later ones are
    ignored; the previous handlers come back after it."""
    previous = {sig: signal.signal(sig, _handler) for sig in STOP_SIGNALS}
    with contextlib.suppress(AttributeError, OSError):  # a parent may have left them blocked
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _State.active, _State.stopping, _State.spawning, _State.pending = True, False, 0, None
    try:
        yield
    finally:
        _State.active = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def spawning() -> Iterator[None]:
    """Around ``subprocess.Popen``: a stop signal arriving meanwhile is raised once the block
    ends, when the caller holds the new process (and its ``finally`` stops it)."""
    _State.spawning += 1
    try:
        yield
    finally:
        _State.spawning -= 1
    if not _State.spawning and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        raise StopRequested(signum)


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    return False


def _key(proc: psutil.Process) -> tuple[int, float] | None:
    with contextlib.suppress(psutil.Error):
        return proc.pid, proc.create_time()
    return None


def _alive(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    return False


class ProcessTree:
    """Every process descended from this one since :meth:`adopt` (what ``make ui`` started)."""

    def __init__(self) -> None:
        self.before: set[tuple[int, float]] = set()
        self.subreaper = False
        self.own_children: set[int] = set()  # Popen objects wait for these: not reaped here
        self.parent = os.getppid()

    def adopt(self) -> None:
        """From now on orphans of our descendants come back to this process; what is already
        running (the embedded PostgreSQL) is left out; our parent's death sends us SIGHUP."""
        self.subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.before = {k for k in map(_key, self._descendants()) if k}
        if _prctl(PR_SET_PDEATHSIG, signal.SIGHUP) and os.getppid() != self.parent:
            raise StopRequested(signal.SIGHUP)  # the parent died before the request

    @staticmethod
    def _descendants() -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return psutil.Process().children(recursive=True)
        return []

    def ours(self) -> list[psutil.Process]:
        return [p for p in self._descendants() if _key(p) not in self.before and _alive(p)]

    def started(self, process: subprocess.Popen) -> subprocess.Popen:
        self.own_children.add(process.pid)
        return process

    def reap(self) -> None:
        """Collect the exit status of re-parented orphans (zombies otherwise, until we exit)."""
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children():
                with contextlib.suppress(psutil.Error, ChildProcessError, OSError):
                    if child.pid not in self.own_children and child.status() == psutil.STATUS_ZOMBIE:
                        os.waitpid(child.pid, os.WNOHANG)

    def parent_died(self) -> bool:
        return os.getppid() != self.parent

    def stop(self, grace: float = 3.0, first: dict[int, int] | None = None) -> None:
        """Signal our children (``first``: pid -> signal, SIGTERM for the others, orphans
        re-parented to us included; they stop their own children), watch the whole tree for
        ``grace`` seconds (processes born or re-parented meanwhile join), then SIGKILL whatever
        of it is still alive and wait for it."""
        first, me = first or {}, os.getpid()
        known: dict[tuple[int, float], psutil.Process] = {}
        signalled: set[tuple[int, float]] = set()
        deadline = time.monotonic() + grace
        while True:
            for proc in self.ours():
                key = _key(proc)
                if key:
                    known.setdefault(key, proc)
            for key, proc in known.items():  # our children (and orphans): their parents stop the rest
                with contextlib.suppress(psutil.Error):
                    if key not in signalled and proc.ppid() == me:
                        signalled.add(key)
                        proc.send_signal(first.get(proc.pid, signal.SIGTERM))
            self.reap()
            if not any(_alive(p) for p in known.values()) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        for _ in range(3):  # kill, then look again: a dying parent may have forked meanwhile
            left = [p for p in {**known, **{_key(p): p for p in self.ours()}}.values() if _alive(p)]
            if not left:
                break
            for proc in left:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(left, timeout=2)
            self.reap()


def run_until_signalled(command: Sequence[str], cwd: Path, tree: ProcessTree, grace: float = 3.0) -> int:
    """Run ``command`` in a session of its own until it exits, :class:`StopRequested` is raised
    (inside :func:`stop_on_signals`) or our parent dies; then stop the whole tree
    (:meth:`ProcessTree.stop`: ``command`` gets SIGINT, our other children SIGTERM, and what is
    left of the tree SIGKILL after ``grace``).
    Returns the child's exit code, or 128 + the signal number when stopped by a signal."""
    with spawning():
        process = tree.started(subprocess.Popen(list(command), cwd=cwd, start_new_session=True))
    try:
        while process.poll() is None:
            time.sleep(1)  # a stop signal interrupts the sleep at once
            tree.reap()
            if tree.parent_died():
                raise StopRequested(signal.SIGHUP)
        tree.stop(grace=grace)  # it exited by itself: what it left behind, and the sandbox
        return process.returncode
    except StopRequested as stop:
        _State.stopping = True
        started = time.monotonic()
        print(f"{signal.Signals(stop.signum).name}: stopping the UI ({len(tree.ours())} processes)", file=sys.stderr, flush=True)
        tree.stop(grace=grace, first={process.pid: signal.SIGINT})
        print(f"stopped in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
        return 128 + stop.signum
    finally:
        if process.poll() is None:
            tree.stop(grace=grace, first={process.pid: signal.SIGINT})


def parent_ignores_sigterm() -> bool:
    """Whether our parent (``make``) ignores SIGTERM: it then does not pass it on (GNU make keeps
    a signal ignored that was ignored when it started, and so do its children)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{os.getppid()}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False
