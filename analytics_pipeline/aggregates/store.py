"""The aggregates layer's store: refresh a materialized view and read back what it publishes.

``REFRESH MATERIALIZED VIEW CONCURRENTLY`` (readers are never blocked; every view has a unique
index, sql/migrations/0005_gamification.sql), a plain REFRESH the first time (views are created
WITH NO DATA). A leaderboard refresh takes the ledger's advisory lock exclusively
(``point_transactions`` writers hold it shared), so it waits until a ledger write in progress has
committed — at most ``lock_timeout_seconds``, then :class:`LedgerBusy` — and publishes a whole
day, never a half-written one.
"""
from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics_pipeline.gamification.store import LEDGER_LOCK_SQL


class LedgerBusy(RuntimeError):
    """The ledger stayed locked by a writer for longer than the refresh may wait."""


def refresh_view(engine: Engine, view: str, ledger_lock: bool, lock_timeout_seconds: int = 900) -> dict:
    """REFRESH MATERIALIZED VIEW (CONCURRENTLY once populated) ``view``; return rows and duration."""
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(sa.text(f"set local lock_timeout = '{int(lock_timeout_seconds)}s'"))
        if ledger_lock:
            try:
                conn.execute(sa.text(f"select pg_advisory_xact_lock({LEDGER_LOCK_SQL})"))
            except sa.exc.OperationalError as exc:
                raise LedgerBusy(
                    f"{view}: the ledger was being written for more than {lock_timeout_seconds} s; "
                    "refresh not started (the next run retries)."
                ) from exc
        populated = conn.execute(
            sa.text("select relispopulated from pg_class where oid = to_regclass(:v)"), {"v": view}
        ).scalar_one()
        concurrently = "concurrently " if populated else ""
        conn.execute(sa.text(f"refresh materialized view {concurrently}{view}"))
    seconds = time.monotonic() - started
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select count(*) from {view}")).scalar_one()
    return {"rows": int(rows), "refresh_seconds": round(seconds, 3), "concurrently": bool(populated)}


def leaderboard_entries(engine: Engine, view: str) -> dict:
    """How many entries of a leaderboard are shown anonymously and how many by name."""
    with engine.connect() as conn:
        anonymous, public = conn.execute(sa.text(
            f"select count(*) filter (where is_anonymous), count(*) filter (where not is_anonymous) from {view}"
        )).one()
    return {"anonymous_entries": int(anonymous), "public_entries": int(public)}


def smallest_group(engine: Engine, view: str, count_column: str) -> dict:
    """The smallest published group of a k-anonymous view and the k in force."""
    with engine.connect() as conn:
        smallest, k = conn.execute(sa.text(f"select min({count_column}), k_anonymity() from {view}")).one()
    return {"smallest_published_group": int(smallest or 0), "k": int(k)}
