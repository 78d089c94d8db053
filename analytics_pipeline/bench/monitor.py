"""Peak memory sampling in a background thread (psutil).

``RssMonitor`` samples, every ``interval`` seconds, named groups of processes: a process tree
(the Dagster run: ``dagster job execute`` and its step subprocesses) and the PostgreSQL server
(postmaster and its backends). For each group it keeps the peak of

- ``rss_sum``: the sum of the processes' RSS (counts shared pages once per process, so it
  overstates PostgreSQL, whose backends all map shared_buffers);
- ``rss_est``: sum of (RSS - shared) + the largest shared: closer to what the group really
  occupies;
- ``rss_max_process``: the largest single process;

and, while the group is watched, the machine's 1-minute load average (``load1_mean``,
``load1_max``): the benchmark shares its cores with whatever else runs, and a number measured
at load 6 is not one measured at load 0.5 (issue 18 asks for the load beside every run).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

MB = 1024 * 1024


def process_tree(pid: int) -> Callable[[], list[psutil.Process]]:
    """A callable returning the process ``pid`` and all its descendants (alive now)."""
    def members() -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
    return members


def postmaster_pid(pgdata: Path | None = None, backend_pid: int | None = None) -> int | None:
    """The PostgreSQL server's main pid: from ``postmaster.pid`` of a data folder, or the parent
    of a backend pid (a server on this machine); None when it cannot be seen."""
    if pgdata is not None:
        pidfile = Path(pgdata) / "postmaster.pid"
        if pidfile.exists():
            return int(pidfile.read_text().splitlines()[0])
    if backend_pid is not None:
        try:
            return psutil.Process(backend_pid).ppid()
        except psutil.Error:
            return None
    return None


class RssMonitor:
    """Samples groups of processes until stopped; ``peaks()`` returns MB per group."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.groups: dict[str, Callable[[], list[psutil.Process]]] = {}
        self._peaks: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def watch(self, name: str, members: Callable[[], list[psutil.Process]]) -> None:
        with self._lock:
            self.groups[name] = members
            self._peaks.setdefault(name, _empty_peak())

    def unwatch(self, name: str) -> None:
        with self._lock:
            self.groups.pop(name, None)

    def reset(self, name: str) -> None:
        with self._lock:
            self._peaks[name] = _empty_peak()

    def sample(self) -> None:
        with self._lock:
            groups = list(self.groups.items())
        load1 = os.getloadavg()[0]
        for name, members in groups:
            total = private = shared_max = biggest = 0
            procs = members()
            for proc in procs:
                try:
                    info = proc.memory_info()
                except psutil.Error:
                    continue
                shared = getattr(info, "shared", 0)
                total += info.rss
                private += info.rss - shared
                shared_max = max(shared_max, shared)
                biggest = max(biggest, info.rss)
            with self._lock:
                peak = self._peaks[name]
                peak["rss_sum_mb"] = max(peak["rss_sum_mb"], total / MB)
                peak["rss_est_mb"] = max(peak["rss_est_mb"], (private + shared_max) / MB)
                peak["rss_max_process_mb"] = max(peak["rss_max_process_mb"], biggest / MB)
                peak["processes_max"] = max(peak["processes_max"], len(procs))
                peak["load1_sum"] += load1
                peak["load1_samples"] += 1
                peak["load1_max"] = max(peak["load1_max"], load1)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> "RssMonitor":
        self._thread = threading.Thread(target=self._loop, name="rss-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.sample()

    def peaks(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {name: _reported(peak) for name, peak in self._peaks.items()}

    def __enter__(self) -> "RssMonitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _empty_peak() -> dict[str, float]:
    return {"rss_sum_mb": 0.0, "rss_est_mb": 0.0, "rss_max_process_mb": 0.0, "processes_max": 0,
            "load1_sum": 0.0, "load1_samples": 0, "load1_max": 0.0}


def _reported(peak: dict[str, float]) -> dict[str, float | None]:
    out = {k: round(v, 1) for k, v in peak.items() if not k.startswith("load1_")}
    samples = peak["load1_samples"]
    out["load1_mean"] = round(peak["load1_sum"] / samples, 2) if samples else None
    out["load1_max"] = round(peak["load1_max"], 2) if samples else None
    return out
