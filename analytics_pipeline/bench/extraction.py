"""Measure extraction throughput (rows/s) and peak memory of this process.

``measure_extraction(api_url, token, database_url)`` extracts resources (a full read) through the
same code as the assets and returns one :class:`Measurement` per resource. The API is any
server (the benchmark developer starts the sandbox at the scale they want); this module does
not import the sandbox. ``python -m analytics_pipeline.bench.extraction`` starts a sandbox
*process* (profile S with 10,000 learners ≈ 1M learning events; ``--api-url`` uses a running
one), measures, and prints. ``--empty-tables`` truncates each resource's table first (a first
load, as in the benchmark); ``--copy-limit`` then also times the COPY of the same rows from a
local CSV into an empty copy of the table (same indexes and triggers) and prints the ratio;
``--keep-indexes`` loads without deferring the secondary indexes (``bulk.DeferredIndexes``).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import sqlalchemy as sa

from analytics_pipeline.bench.limits import LIMIT_SCHEMA, create_limit_table, timed_copy
from analytics_pipeline.orchestration.child_server import wait_until_healthy
from analytics_pipeline.sources.client import LmsClient
from analytics_pipeline.sources.store.tables import DEFAULT_BATCH_ROWS, TableSink, extract
from analytics_pipeline.sources.specs import SOURCES_BY_RESOURCE
from analytics_pipeline.warehouse.engine import make_engine


@dataclass(frozen=True)
class Measurement:
    resource: str
    rows: int
    pages: int
    seconds: float
    rows_per_second: float
    megabytes_received: float
    rss_before_mb: float
    rss_peak_mb: float
    copy_limit_seconds: float | None = None

    @property
    def ratio_to_copy(self) -> float | None:
        return round(self.seconds / self.copy_limit_seconds, 2) if self.copy_limit_seconds else None

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


class PeakMemory:
    """Samples this process's resident set size in a thread; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.02):
        self.process, self.interval = psutil.Process(), interval
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def measure_extraction(
    api_url: str,
    token: str,
    database_url: str,
    resources: Sequence[str] = ("learning-events",),
    page_size: int = 5000,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    empty_tables: bool = False,
    copy_limit: bool = False,
    defer_indexes: bool = True,
) -> list[Measurement]:
    """Full extraction of each resource into the (migrated) warehouse; timing and peak RSS."""
    engine = make_engine(database_url)
    results = []
    for resource in resources:
        spec = SOURCES_BY_RESOURCE[resource]
        if empty_tables:
            with engine.begin() as conn:
                conn.execute(sa.text(f"truncate {spec.table} cascade"))
        rss_before = psutil.Process().memory_info().rss
        with LmsClient(api_url, token, page_size=page_size) as client, PeakMemory() as memory:
            stats = extract(engine, client, resource, lambda conn, stats: TableSink(conn, spec, stats, "measure", defer_indexes),
                            run_id="measure", full_refresh=True, batch_rows=batch_rows)
        results.append(Measurement(
            resource, stats.rows_received, stats.pages, round(stats.elapsed, 2), round(stats.rows_per_second),
            round(stats.bytes / 1e6, 1), round(rss_before / 1e6, 1), round(memory.peak / 1e6, 1),
            round(copy_limit_seconds(engine, spec.table, spec.columns), 2) if copy_limit else None,
        ))
    return results


def copy_limit_seconds(engine, table: str, columns: list[str]) -> float:
    """Seconds to COPY the rows now in ``table`` from a local CSV into an empty copy of it (same
    indexes and triggers: ``limits.create_limit_table``)."""
    with engine.connect() as conn, tempfile.TemporaryDirectory() as folder:
        driver = conn.connection.driver_connection
        path = Path(folder) / f"{table}.csv"
        names = ", ".join(f'"{c}"' for c in columns)
        with driver.cursor() as cursor, open(path, "wb") as sink, \
                cursor.copy(f"COPY (select {names} from {table}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                sink.write(block)
        driver.commit()
        conn.exec_driver_sql(f"drop schema if exists {LIMIT_SCHEMA} cascade")
        conn.exec_driver_sql(f"create schema {LIMIT_SCHEMA}")
        create_limit_table(conn, table)
        conn.commit()
        seconds = timed_copy(conn, table, columns, path)
        conn.exec_driver_sql(f"drop schema {LIMIT_SCHEMA} cascade")
        conn.commit()
    return seconds


@contextlib.contextmanager
def sandbox_process(port: int, token: str, profile: str, learners: int | None) -> Iterator[str]:
    """A sandbox server in a child process (so its memory is not counted); yields its URL."""
    command = [sys.executable, "-m", "analytics_pipeline.sandbox", "--port", str(port), "--profile", profile, "--token", token]
    if learners:
        command += ["--learners", str(learners)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, timeout=900, poll_seconds=0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: Sequence[str] | None = None) -> None:
    from analytics_pipeline.orchestration.launch import free_port
    from analytics_pipeline.runtime import prepare_environment
    from analytics_pipeline.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="S")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS)
    parser.add_argument("--resources", nargs="+", default=["learning-events"])
    parser.add_argument("--api-url", help="a running sandbox (token measure-token) instead of starting one")
    parser.add_argument("--empty-tables", action="store_true", help="truncate each resource's table first")
    parser.add_argument("--copy-limit", action="store_true", help="also time COPY of the same rows from a local CSV")
    parser.add_argument("--keep-indexes", action="store_true",
                        help="maintain the secondary indexes row by row on a first load (the code before the deferral)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    database_url = prepare_environment(load_settings()).database_url
    token = "measure-token"
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        url = args.api_url or stack.enter_context(sandbox_process(free_port(), token, args.profile, args.learners))
        print(f"sandbox ready in {time.monotonic() - started:.0f} s")
        for result in measure_extraction(url, token, database_url, args.resources, args.page_size, args.batch_rows,
                                         args.empty_tables, args.copy_limit, not args.keep_indexes):
            print({**asdict(result), "rss_growth_mb": round(result.rss_growth_mb, 1), "ratio_to_copy": result.ratio_to_copy})


if __name__ == "__main__":
    main()
