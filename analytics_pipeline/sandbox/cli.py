"""Command line of the sandbox, pluggable into the project's main CLI.

    analytics-pipeline sandbox --port 8400 --profile XS --seed 42 [--error-rate 0.1 ...]
    analytics-pipeline sandbox --replay reference/data/oulad-2013 --at 2013J:0.25   (a recorded platform)

``add_arguments(parser)`` declares the options; ``run_from_args(args)`` serves.
"""
from __future__ import annotations

import argparse

from analytics_pipeline.sandbox.profiles import PROFILES, resolve_profile
from analytics_pipeline.sandbox.runner import serve

FAULT_OPTIONS = {  # option -> (type, help)
    "latency_ms": (float, "delay every data response by this many milliseconds"),
    "error_rate": (float, "share of data requests answered 503"),
    "rate_limit_burst": (int, "answer the first N data requests with 429"),
    "retry_after": (int, "Retry-After seconds sent with 429 (default 1)"),
    "truncated_body_rate": (float, "share of responses with a truncated body"),
    "malformed_json_rate": (float, "share of responses whose body is not valid JSON"),
    "drop_connection_rate": (float, "share of requests whose connection is closed unanswered"),
    "invalid_row_rate": (float, "share of rows with a missing field or a wrong value"),
    "fault_seed": (int, "seed of the fault decisions (default 0)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--profile", default="XS", choices=sorted(PROFILES),
                        type=str.upper, help="scale of the synthetic platform")
    parser.add_argument("--seed", type=int, default=42, help="data seed")
    parser.add_argument("--token", default="sandbox-token", help="expected bearer token")
    parser.add_argument("--replay", default=None, metavar="FOLDER",
                        help="serve a recorded platform (an OULAD extract, e.g. reference/data/oulad-2013) instead of synthetic data")
    parser.add_argument("--at", default=None, help="the replay's instant: <presentation>:<fraction of its run> (2013J:0.25) or a date")
    parser.add_argument("--shift-years", default="auto",
                        help="move the replay's timeline by whole years (default auto: its clock falls in the past year)")
    for name in ("learners", "organizations", "courses", "skills", "days"):
        parser.add_argument(f"--{name}", type=int, default=None, help=f"override the profile's {name}")
    faults = parser.add_argument_group("fault injection (data endpoints only)")
    for name, (kind, help_text) in FAULT_OPTIONS.items():
        faults.add_argument("--" + name.replace("_", "-"), type=kind, default=None, help=help_text)
    faults.add_argument("--extra-fields", action="store_true", help="add unknown fields to rows")
    faults.add_argument("--loop-cursor", action="store_true", help="cursors loop back to page one")
    return parser


def run_from_args(args: argparse.Namespace) -> None:
    if args.replay:
        from analytics_pipeline.sandbox.replay import ReplayPlatform

        if not args.at:
            raise SystemExit("--replay needs --at (e.g. 2013J:0.25 or 2013-12-07)")
        profile = ReplayPlatform(args.replay, args.at, args.shift_years)
    else:
        profile = resolve_profile(args.profile, learners=args.learners, organizations=args.organizations,
                                  courses=args.courses, skills=args.skills, days=args.days)
    faults = {name: getattr(args, name) for name in FAULT_OPTIONS if getattr(args, name) is not None}
    if "fault_seed" in faults:
        faults["seed"] = faults.pop("fault_seed")
    faults.update(extra_fields=args.extra_fields, loop_cursor=args.loop_cursor)
    serve(args.port, profile, args.seed, args.token, args.host, **faults)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analytics_pipeline.sandbox",
                                     description="Sandbox LMS server (synthetic data, contract only)")
    run_from_args(add_arguments(parser).parse_args(argv))
