"""cProfile of one analytics category's pandas path on a kept benchmark warehouse.

    python -m analytics_pipeline.bench.profile --database-url URL --at 2026-11-22T00:00:00Z engagement

(keep the warehouse with ``analytics-pipeline bench --keep``; its URL is in the results JSON).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats

import pandas as pd

from analytics_pipeline.bench.indb import pandas_in_process, run_sql


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics_pipeline.bench.profile")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--at", required=True, help="snapshot instant T (ISO, UTC)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("category", choices=["engagement", "performance"])
    args = parser.parse_args(argv)
    T = pd.Timestamp(args.at).tz_convert("UTC") if pd.Timestamp(args.at).tzinfo else pd.Timestamp(args.at, tz="UTC")
    print("sql", run_sql(args.database_url, args.category, T))
    profiler = cProfile.Profile()
    profiler.enable()
    _, timing = pandas_in_process(args.database_url, args.category, T)
    profiler.disable()
    print("pandas", timing)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
