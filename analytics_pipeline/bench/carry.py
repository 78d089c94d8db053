"""Measure the carry-forward (issue 18): the snapshot of T recomputed in full vs carried from T - 1 day.

    python -m analytics_pipeline.bench.carry --learners 5000 \\
        --server-url postgresql://postgres@127.0.0.1:5432/postgres
    python -m analytics_pipeline.bench.carry --url postgresql://.../copy --T 2026-12-01T00:00:00Z

Without ``--url``: a throw-away database with ``analytics_steps.generate`` at T - 1 day, then a day
of changes for ``--changed`` of the learners (a result submitted, a skill re-assessed, an
enrollment completed, a result deleted: split evenly). With ``--url`` (a migrated warehouse,
e.g. a copy of a benchmark's; never a live one: it writes the snapshots of T - 1 day and T): the
warehouse as it is. Per carry-forward category: the snapshot of T - 1 day (full: it records the
run), the full snapshot of T (``carry=False``), then the carried one; seconds of each, learners
recomputed and carried, and whether the carried rows equal the full ones (every column but id).
"""
from __future__ import annotations

import argparse
import json
import time
import uuid

import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.store import CARRY_DIRTY, run_snapshot
from analytics_pipeline.warehouse.bulk import read_frame, sql_text

DAY = pd.Timedelta(days=1)


def day_of_changes(engine, T: pd.Timestamp, share: float, seed: int = 5) -> None:
    """Changes in (T - 1 day, T] for ``share`` of the learners (see module docstring)."""
    with engine.begin() as conn:
        conn.execute(sa.text(sql_text("bench/carry_day_of_changes.sql")),
                     {"tp": (T - DAY).to_pydatetime(), "share": share, "seed": seed / 100})


def _rows(conn, table: str, T: pd.Timestamp) -> pd.DataFrame:
    frame = read_frame(conn, sql_text("bench/carry_rows.sql").format(table=table),
                       {"t": T.to_pydatetime()})
    return frame.drop(columns=["id"]).astype(str).sort_values("user_id").reset_index(drop=True)


def measure(url: str, T: pd.Timestamp, chunk_learners: int, names=tuple(CARRY_DIRTY),
            previous: bool = True) -> list[dict]:
    from analytics_pipeline.warehouse.engine import make_engine
    engine = make_engine(url)
    out = []
    for name in names:
        table = CATEGORIES[name][1]
        if previous:
            run_snapshot(engine, name, T - DAY, chunk_learners=chunk_learners, check_quality=True)
        t0 = time.perf_counter()
        full = run_snapshot(engine, name, T, chunk_learners=chunk_learners, carry=False)
        t1 = time.perf_counter()
        with engine.connect() as conn:
            expected = _rows(conn, table, T)
        t2 = time.perf_counter()
        carried = run_snapshot(engine, name, T, chunk_learners=chunk_learners)
        t3 = time.perf_counter()
        with engine.connect() as conn:
            equal = _rows(conn, table, T).equals(expected)
        out.append({"category": name, "rows": carried.rows, "full_seconds": round(t1 - t0, 2),
                    "carry_seconds": round(t3 - t2, 2), "path": carried.path,
                    "fallback": carried.fallback, "learners_recomputed": carried.learners_recomputed,
                    "learners_carried": carried.learners_carried, "rows_equal_full": equal,
                    "carry_phase_seconds": {k: round(v, 2) for k, v in carried.seconds.items()}})
        print(json.dumps(out[-1]), flush=True)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url")
    p.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--learners", type=int, default=5000)
    p.add_argument("--changed", type=float, default=0.02)
    p.add_argument("--events-per-learner", type=int, default=2,
                   help="learning events (not read by the carried categories)")
    p.add_argument("--T", default="2025-06-02T00:00:00Z")
    p.add_argument("--chunk-learners", type=int, default=20_000)
    p.add_argument("--no-previous", action="store_true", help="T - 1 day's snapshots exist already")
    a = p.parse_args(argv)
    T = pd.Timestamp(a.T)
    if a.url:
        measure(a.url, T, a.chunk_learners, previous=not a.no_previous)
        return
    from analytics_pipeline.bench.analytics_steps import generate
    from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
    from analytics_pipeline.warehouse.migrate import migrate
    name = f"ap_carry_{uuid.uuid4().hex[:8]}"
    url = ensure_database(a.server_url, name)
    try:
        migrate(url)
        engine = make_engine(url)
        generate(engine, a.learners, T - DAY, events_per_learner=a.events_per_learner)
        for n in CARRY_DIRTY:
            run_snapshot(engine, n, T - DAY, chunk_learners=a.chunk_learners)
        day_of_changes(engine, T, a.changed)
        measure(url, T, a.chunk_learners, previous=False)
    finally:
        make_engine(url).dispose()
        make_engine.cache_clear()
        drop_database(a.server_url, name)


if __name__ == "__main__":
    main()
