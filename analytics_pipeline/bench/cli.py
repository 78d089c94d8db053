"""`analytics-pipeline bench` (`make bench PROFILE=S|M|L`).

    analytics-pipeline bench --profile L            full + incremental nightly, limits, SQL alternative
    analytics-pipeline bench --profile S --learners 800 --keep
    analytics-pipeline bench --update-readme [results.json]   README's Performance section only
"""
from __future__ import annotations

import argparse
from pathlib import Path

from analytics_pipeline.sandbox.profiles import PROFILES


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--profile", default="S", type=str.upper, choices=sorted(PROFILES), help="sandbox scale")
    parser.add_argument("--seed", type=int, default=42)
    for name in ("learners", "organizations", "courses", "skills", "days"):
        parser.add_argument(f"--{name}", type=int, default=None, help=f"override the profile's {name} (custom scale)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's warehouse database")
    parser.add_argument("--no-incremental", action="store_true", help="skip the next-day run")
    parser.add_argument("--no-sql", action="store_true", help="skip the in-database alternative")
    parser.add_argument("--page-size", type=int, default=None, help="LMS_PAGE_SIZE for the run")
    parser.add_argument("--executor", default=None, help="DAGSTER_EXECUTOR for the run")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true", help="send the Dagster output to a log file")
    parser.add_argument("--update-readme", nargs="?", const="latest", default=None, metavar="RESULTS_JSON",
                        help="only write the README's Performance section (latest L results by default)")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    if args.update_readme:
        from analytics_pipeline.bench.report import update_readme

        used = update_readme(None if args.update_readme == "latest" else Path(args.update_readme))
        print(f"README Performance section updated from {used}")
        return 0
    from analytics_pipeline.bench.harness import RESULTS_DIR, BenchOptions, run_bench

    overrides = {k: getattr(args, k) for k in ("learners", "organizations", "courses", "skills", "days")
                 if getattr(args, k) is not None}
    results = run_bench(BenchOptions(profile=args.profile, seed=args.seed, overrides=overrides, keep=args.keep,
                                     incremental=not args.no_incremental, sql_alternative=not args.no_sql,
                                     page_size=args.page_size, executor=args.executor, quiet=args.quiet,
                                     results_dir=args.results_dir or RESULTS_DIR))
    return 0 if (results.get("full") or {}).get("exit_code") == 0 else 1
