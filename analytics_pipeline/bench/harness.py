"""The benchmark run: sandbox at a profile, a fresh warehouse, the real nightly job (full, then
the next day incrementally), the machine's limits side by side, results as JSON + markdown.

Every stage timing comes from the Dagster run's event log (``events.step_timings``), so new
assets show up without changes here; peak RSS from ``monitor.RssMonitor``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import psutil
import requests
import sqlalchemy as sa

from analytics_pipeline.bench import indb, limits
from analytics_pipeline.bench.events import asset_groups, find_run_id, step_timings
from analytics_pipeline.bench.monitor import RssMonitor, postmaster_pid, process_tree
from analytics_pipeline.bench.report import build_stages, machine_info, markdown_table
from analytics_pipeline.settings import PROJECT_ROOT, load_settings
from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
from analytics_pipeline.warehouse.migrate import migrate
from analytics_pipeline.warehouse.urls import dagster_storage_url, redacted

log = logging.getLogger(__name__)
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"


@dataclasses.dataclass
class BenchOptions:
    profile: str = "S"
    seed: int = 42
    overrides: dict = dataclasses.field(default_factory=dict)   # learners, organizations, ... (custom scale)
    keep: bool = False
    incremental: bool = True
    results_dir: Path = RESULTS_DIR
    dagster_pg_url: str | None = None      # Dagster's storage (default: settings, else db `dagster`)
    page_size: int | None = None
    executor: str | None = None            # DAGSTER_EXECUTOR for the run (default: settings/env)
    sql_alternative: bool = True
    quiet: bool = False


def _now_tag() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


@contextlib.contextmanager
def _environ(**values):
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _server_url(settings) -> tuple[str, bool, Path | None]:
    from analytics_pipeline.runtime import resolve_database_url

    url, embedded = resolve_database_url(settings)
    return url, embedded, settings.pgdata_dir if embedded else None


def _pg_members(database_url: str, pgdata: Path | None):
    pid = postmaster_pid(pgdata=pgdata)
    if pid is None:
        with make_engine(database_url).connect() as conn:
            backend = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
        pid = postmaster_pid(backend_pid=backend)
        with contextlib.suppress(psutil.Error):
            if pid and "postgres" not in psutil.Process(pid).name() and "postmaster" not in psutil.Process(pid).name():
                pid = None
    return process_tree(pid) if pid else (lambda: [])


def run_job(partition: str, bench_id: str, monitor: RssMonitor, group: str, env: dict, quiet: bool) -> dict:
    """``dagster job execute`` of the nightly job (as `make run` does), its tree sampled as ``group``."""
    tags = {"dagster/partition": partition, "bench/id": bench_id}
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "analytics_pipeline.definitions",
               "-d", str(PROJECT_ROOT), "-j", "nightly", "--tags", json.dumps(tags)]
    log_path = Path(tempfile.gettempdir()) / f"bench-{bench_id}.log"
    started = time.monotonic()
    with open(log_path, "wb") as sink:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=sink if quiet else None,
                                   stderr=subprocess.STDOUT if quiet else None)
        monitor.watch(group, process_tree(process.pid))
        code = process.wait()
    seconds = time.monotonic() - started
    monitor.sample()
    monitor.unwatch(group)
    return {"partition": partition, "bench_id": bench_id, "exit_code": code, "wall_seconds": round(seconds, 3),
            "log": str(log_path) if quiet else None}


def _timings(bench_id: str, groups: dict) -> dict:
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run_id = find_run_id(instance, bench_id)
        if run_id is None:
            return {"run": {"run_id": None}, "steps": []}
        return step_timings(instance, run_id, groups)


def _count(database_url: str, table: str) -> int:
    with make_engine(database_url).connect() as conn:
        return conn.execute(sa.text(f"select count(*) from {table}")).scalar_one()


def run_bench(options: BenchOptions) -> dict:
    from analytics_pipeline.orchestration.launch import default_partition
    from analytics_pipeline.sandbox import Platform, resolve_profile, start_in_thread

    settings = load_settings()
    server_url, embedded, pgdata = _server_url(settings)
    profile = resolve_profile(options.profile, **options.overrides)
    bench_tag = f"{profile.name}-{_now_tag()}"
    results: dict = {"profile": profile.name, "profile_spec": dataclasses.asdict(profile), "seed": options.seed,
                     "started_at": dt.datetime.now(dt.timezone.utc).isoformat(), "machine": machine_info(),
                     "warehouse_server": redacted(server_url), "embedded": embedded}
    monitor = RssMonitor().start()
    monitor.watch("bench_process", lambda: [psutil.Process(os.getpid())])

    started = time.perf_counter()
    platform = Platform(profile, options.seed)
    results["sandbox"] = {"generate_seconds": round(time.perf_counter() - started, 3),
                          "generate_peak_rss_mb": monitor.peaks()["bench_process"]["rss_sum_mb"],
                          "state": platform.state()}
    handle = start_in_thread(platform, token=settings.lms_api_token)
    database = f"bench_{profile.name.lower().replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    database_url = ensure_database(server_url, database)
    dump_dir = Path(tempfile.mkdtemp(prefix="bench-dump-"))
    try:
        migrate(database_url)
        dagster_url = options.dagster_pg_url or settings.dagster_pg_url or dagster_storage_url(
            ensure_database(server_url, "dagster"))
        env_values = {"DATABASE_URL": database_url, "DAGSTER_PG_URL": dagster_url, "LMS_API_URL": handle.url,
                      "LMS_API_TOKEN": settings.lms_api_token, "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT))}
        if options.page_size:
            env_values["LMS_PAGE_SIZE"] = str(options.page_size)
        if options.executor:
            env_values["DAGSTER_EXECUTOR"] = options.executor
        results["warehouse_database"] = database
        with _environ(**env_values):
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])])
            env.setdefault("PYTHONWARNINGS", "ignore::RuntimeWarning")
            groups = asset_groups()
            started = time.perf_counter()
            dumped = limits.dump_platform(platform, dump_dir)
            results["dump"] = {"seconds": round(time.perf_counter() - started, 3),
                               "tables": {k: {"rows": v.rows, "bytes": v.bytes} for k, v in dumped.items()}}
            monitor.watch("postgres", _pg_members(database_url, pgdata))
            partition = default_partition(handle.url, settings.lms_api_token)

            # ---- 1. the full nightly run -------------------------------------------------
            monitor.reset("postgres")
            full = run_job(partition, f"{bench_tag}-full-{uuid.uuid4().hex[:6]}", monitor, "pipeline", env, options.quiet)
            full["peak_rss"] = {"pipeline": monitor.peaks()["pipeline"], "postgres": monitor.peaks()["postgres"]}
            full.update(_timings(full["bench_id"], groups))
            results["full"] = full
            if full["exit_code"] != 0:
                log.error("the nightly job failed (exit %s); limits are still measured", full["exit_code"])

            # no sources assets in the graph yet: load the raw rows so the comparison has data
            if _count(database_url, "learning_events") == 0:
                results["raw_loaded_by_harness"] = limits.load_raw_tables(database_url, dumped)
            page_size = options.page_size or settings.lms_page_size

            # ---- 2. the limits, same rows, same run ---------------------------------------
            results["copy_limit"] = limits.copy_limit(database_url, dumped)
            results["transfer_limit"] = limits.transfer_limit(handle.url, settings.lms_api_token,
                                                              list(platform.tables), page_size)
            T = pd.Timestamp(partition, tz="UTC") + pd.Timedelta(days=1)
            results["snapshot_instant"] = T.isoformat()
            if options.sql_alternative:
                results["in_database"] = in_database(database_url, T)

            # ---- 3. incremental: the next day -----------------------------------------------
            if options.incremental and full["exit_code"] == 0:
                state = requests.post(f"{handle.url}/_sandbox/advance", params={"days": 1},
                                      headers={"Authorization": f"Bearer {settings.lms_api_token}"}, timeout=60)
                state.raise_for_status()
                next_partition = (pd.Timestamp(partition) + pd.Timedelta(days=1)).date().isoformat()
                monitor.reset("postgres")
                inc = run_job(next_partition, f"{bench_tag}-inc-{uuid.uuid4().hex[:6]}", monitor, "pipeline_incremental",
                              env, options.quiet)
                inc["peak_rss"] = {"pipeline": monitor.peaks()["pipeline_incremental"], "postgres": monitor.peaks()["postgres"]}
                inc.update(_timings(inc["bench_id"], groups))
                results["incremental"] = inc
    finally:
        monitor.stop()
        results["peak_rss"] = monitor.peaks()
        handle.stop()
        shutil.rmtree(dump_dir, ignore_errors=True)
        make_engine(database_url).dispose()
        if options.keep:
            results["kept_database"] = redacted(database_url)
        else:
            make_engine.cache_clear()
            with contextlib.suppress(Exception):
                drop_database(server_url, database)
    results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
    results["stages"] = build_stages(results)
    options.results_dir.mkdir(parents=True, exist_ok=True)
    path = options.results_dir / f"{bench_tag}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    results["results_file"] = str(path)
    print(markdown_table(results))
    print(f"\nResults: {path}")
    return results


def in_database(database_url: str, T: pd.Timestamp) -> dict:
    """Each category: SQL statement timed, pandas path (pipeline rows or in-process), compared."""
    out = {}
    for name in indb.CATEGORIES:
        entry = {"sql": indb.run_sql(database_url, name, T)}
        pandas_result, timing = indb.pandas_in_process(database_url, name, T)
        entry["pandas_in_process"] = timing
        written = indb.pipeline_rows(database_url, name, T)
        source = "pipeline" if written is not None else "in_process"
        entry["compared_with"] = source
        sql_frame = indb.sql_rows(database_url, name)
        entry["check"] = indb.compare(name, written if written is not None else pandas_result, sql_frame)
        if written is not None:  # the pure function against the SQL too (explains a pipeline mismatch)
            entry["check_in_process"] = {k: v for k, v in indb.compare(name, pandas_result, sql_frame).items()
                                         if k in ("passed", "mismatched_learners", "learners_compared")}
        out[name] = entry
        del pandas_result, written, sql_frame
    return out
