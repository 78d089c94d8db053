"""The embedded PostgreSQL: the `pgserver` wheel's real server binaries, data in the project.

Started on demand, left running for the next command (it is shared by `make run`, `make ui`
and the tests), listening on a Unix socket inside its data folder (no TCP port to collide with);
`make stop` (``analytics-pipeline stop``) stops it.
"""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from analytics_pipeline.warehouse.errors import WarehouseError

log = logging.getLogger(__name__)

EMBEDDED_MAJOR_VERSION = "16"


def _check_data_folder(pgdata: Path) -> None:
    version_file = pgdata / "PG_VERSION"
    if version_file.exists():
        found = version_file.read_text().strip()
        if found != EMBEDDED_MAJOR_VERSION:
            raise WarehouseError(
                f"The embedded data folder {pgdata} was made by PostgreSQL {found}, but the embedded "
                f"server is PostgreSQL {EMBEDDED_MAJOR_VERSION}. Nothing was changed. Either move the "
                f"folder away (it is only a local cache of the LMS and can be rebuilt by `make run`), "
                f"or set PGDATA_DIR to another folder, or DATABASE_URL to a server of version {found}."
            )
    elif pgdata.exists() and any(pgdata.iterdir()):
        raise WarehouseError(
            f"{pgdata} exists but is not a PostgreSQL data folder (no PG_VERSION). Nothing was changed. "
            "Set PGDATA_DIR to an empty or new folder."
        )


def start_embedded(pgdata: Path) -> str:
    """Start (or join) the embedded server on ``pgdata``; return its psycopg 3 SQLAlchemy URL."""
    pgdata = Path(pgdata)
    _check_data_folder(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = pgdata.parent / ".runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - install problem
        raise WarehouseError("The embedded PostgreSQL needs the `pgserver` package: run `make run`, which installs it.") from exc
    try:
        server = pgserver.get_server(str(pgdata), cleanup_mode=None)
    except Exception as exc:
        raise WarehouseError(
            f"The embedded PostgreSQL in {pgdata} did not start: {exc}. See {pgdata}/log for the server's log; "
            "if another PostgreSQL owns this folder, stop it or set PGDATA_DIR to another folder."
        ) from exc
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    log.info("embedded PostgreSQL ready at %s", uri)
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def stop_embedded(pgdata: Path, timeout: float = 60.0) -> str:
    """Stop the embedded server on ``pgdata`` (PostgreSQL's fast shutdown: sessions end, open
    transactions roll back, committed data stays); return one line saying what was done."""
    pgdata = Path(pgdata)
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return f"No embedded PostgreSQL is running in {pgdata}."
    import psutil  # a dependency of pgserver

    try:
        process = psutil.Process(pid)
        if "postgres" not in process.name():
            raise psutil.NoSuchProcess(pid)
        process.send_signal(signal.SIGINT)  # fast shutdown, as `pg_ctl stop -m fast`
    except psutil.NoSuchProcess:
        return f"No embedded PostgreSQL is running in {pgdata} (a stale postmaster.pid names pid {pid})."
    try:
        process.wait(timeout)
    except psutil.TimeoutExpired:
        raise WarehouseError(
            f"The embedded PostgreSQL (pid {pid}) did not stop within {timeout:.0f} s; see {pgdata}/log."
        ) from None
    return f"Stopped the embedded PostgreSQL in {pgdata} (pid {pid})."
