"""`analytics-pipeline`: the operations that are not Dagster's own.

    analytics-pipeline env        the configuration table (every variable, its value or default)
    analytics-pipeline migrate    start the warehouse if embedded, apply migrations
    analytics-pipeline run        migrate, start the sandbox LMS if LMS_API_URL is unset,
                                  materialize the nightly job once, print what it wrote
                                  (--verbose: Dagster's full event stream too)
    analytics-pipeline ui         the Dagster UI and daemon on 127.0.0.1:3000
    analytics-pipeline sandbox    the sandbox LMS server, standalone
    analytics-pipeline dropout-benchmark   drop-off risk on a recorded platform vs what happened
    analytics-pipeline db-url     print the warehouse URL (starting the embedded server)
    analytics-pipeline stop       stop the embedded PostgreSQL (it keeps running between commands)
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from analytics_pipeline.settings import ENVIRONMENT, load_settings
from analytics_pipeline.warehouse.errors import WarehouseError

log = logging.getLogger("analytics_pipeline")


def _cmd_env(args) -> int:
    for name, (default, description) in ENVIRONMENT.items():
        value = os.environ.get(name)
        secret = any(word in name for word in ("TOKEN", "URL", "PASSWORD"))
        shown = "(set)" if value and secret else (value or f"default: {default or '—'}")
        print(f"{name:24} {shown:28} {description}")
    return 0


def _cmd_migrate(args) -> int:
    from analytics_pipeline.runtime import prepare_environment

    environment = prepare_environment(load_settings())
    applied = ", ".join(environment.migrations_applied) or "none (up to date)"
    print(f"PostgreSQL {environment.server_version}; migrations applied: {applied}")
    return 0


def _cmd_db_url(args) -> int:
    from analytics_pipeline.runtime import resolve_database_url

    print(resolve_database_url(load_settings())[0])
    return 0


def _cmd_stop(args) -> int:
    from analytics_pipeline.warehouse.embedded import stop_embedded

    settings = load_settings()
    if settings.database_url:
        print("DATABASE_URL is set: the warehouse is not the embedded PostgreSQL; nothing to stop.")
        return 0
    print(stop_embedded(settings.pgdata_dir))
    return 0


def _cmd_run(args) -> int:
    from analytics_pipeline.orchestration.launch import run_pipeline

    return run_pipeline(load_settings(), partition=args.partition, job=args.job, verbose=args.verbose)


def _cmd_ui(args) -> int:
    from analytics_pipeline.orchestration.launch import run_ui

    return run_ui(load_settings(), port=args.port)


def _add_optional_command(commands, name: str, help_text: str, module: str) -> None:
    """Sub-command ``name`` from ``module`` (its ``add_arguments`` and ``run_from_args``), when
    that module is installed; otherwise the command is left out."""
    try:
        plugin = importlib.import_module(module)
        add_arguments, run_from_args = plugin.add_arguments, plugin.run_from_args
    except (ImportError, AttributeError):
        return
    command = commands.add_parser(name, help=help_text)
    add_arguments(command)
    command.set_defaults(func=run_from_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analytics-pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="show the configuration").set_defaults(func=_cmd_env)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=_cmd_migrate)
    commands.add_parser("db-url", help="print the warehouse URL").set_defaults(func=_cmd_db_url)
    commands.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(func=_cmd_stop)
    run = commands.add_parser("run", help="run the whole pipeline once")
    run.add_argument("--partition", help="logical day (YYYY-MM-DD); default: the source's last complete day")
    run.add_argument("--job", default="nightly", help="job to execute (default: nightly)")
    run.add_argument("--verbose", action="store_true", help="Dagster's full event stream too (or PIPELINE_VERBOSE=1)")
    run.set_defaults(func=_cmd_run)
    ui = commands.add_parser("ui", help="Dagster UI + daemon")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_cmd_ui)
    _add_optional_command(commands, "sandbox", "the sandbox LMS server", "analytics_pipeline.sandbox.cli")
    _add_optional_command(commands, "bench", "the benchmark", "analytics_pipeline.bench.cli")
    _add_optional_command(commands, "dropout-benchmark", "drop-off risk on a recorded platform (AUC, Brier, baselines)",
                          "analytics_pipeline.bench.dropout")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
