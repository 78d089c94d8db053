"""Measure the learner daily activity rollup (issue 18) on a copy of a warehouse.

    python -m analytics_pipeline.bench.rollup --url postgresql://.../copy --T 2026-12-01T00:00:00Z

Never on a live warehouse: it rebuilds the rollup and writes snapshots. Steps: the rollup's first
build at T - 1 day (its as-of removed first), the incremental maintenance to T (the real day of
ingested events), then per category reading the rollup (velocity, engagement, content
effectiveness: its item cells) the snapshot of T
from the raw events (``rollup=False``) and from the rollup, seconds and phases of each, and
whether the two snapshots are equal row for row (every column but id). One JSON line per step.
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.store import ROLLUP_READS, run_snapshot, update_daily_activity
from analytics_pipeline.bench.carry import _rows

DAY = pd.Timedelta(days=1)


def _load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def _print(row: dict) -> dict:
    print(json.dumps({**row, "load_1min": _load()}), flush=True)
    return row


#: every category reading the rollup: those of ROLLUP_READS, and content effectiveness (its item cells)
READERS = (*ROLLUP_READS, "content_effectiveness")


def measure(url: str, T: pd.Timestamp, chunk_learners: int, names=READERS,
            build: bool = True) -> list[dict]:
    from analytics_pipeline.warehouse.engine import make_engine
    engine = make_engine(url)
    out = []
    if build:
        with engine.begin() as conn:
            conn.execute(sa.text("delete from learner_daily_activity_asof"))
        out.append(_print({"step": "first_build", **update_daily_activity(engine, T - DAY)}))
        out.append(_print({"step": "incremental", **update_daily_activity(engine, T)}))
    for name in names:
        table = CATEGORIES[name][1]
        runs = {}
        for path in ("raw", "rollup"):
            report = run_snapshot(engine, name, T, chunk_learners=chunk_learners,
                                  rollup=path == "rollup")
            with engine.connect() as conn:
                runs[path] = _rows(conn, table, T)
            out.append(_print({"step": name, "path": path, "read_from_rollup": report.rollup,
                               "rows": report.rows, "seconds": round(report.elapsed, 2),
                               "phases": {k: round(v, 2) for k, v in report.seconds.items()}}))
        # rows of one path that the other has not (every column but id; NULL equals NULL)
        differing = pd.concat([runs["raw"], runs["rollup"]]).drop_duplicates(keep=False)
        out.append(_print({"step": name, "rows_equal": runs["raw"].equals(runs["rollup"]),
                           "rows_only_in_one_path": len(differing)}))
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--T", required=True)
    p.add_argument("--chunk-learners", type=int, default=20_000)
    p.add_argument("--no-build", action="store_true", help="the rollup is exact for T already")
    p.add_argument("--category", action="append", help="default: every category reading the rollup")
    a = p.parse_args(argv)
    measure(a.url, pd.Timestamp(a.T), a.chunk_learners, tuple(a.category or READERS),
            build=not a.no_build)


if __name__ == "__main__":
    main()
