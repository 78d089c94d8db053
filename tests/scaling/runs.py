"""Running jobs of the project's code location (or of the probe definitions) the way Dagster's
run workers do: as reconstructable jobs against a persistent Postgres-backed instance."""
from __future__ import annotations

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from analytics_pipeline.settings import PROJECT_ROOT

PROJECT_MODULE = "analytics_pipeline.definitions"
PROBE_MODULE = "tests.scaling.probe_defs"
# A cheap slice of the nightly job: its maintenance step (no LMS) and a source without upstreams
# (read from the LMS): two independent steps of the real definitions, seconds instead of minutes
# (on the multiprocess executor each step process imports the code location: one wave of two).
NIGHTLY_SLICE = (dg.AssetKey("snapshot_partitions"), dg.AssetKey("organizations"))


def recon_job(module: str, job_name: str):
    return ReconstructableRepository.for_module(module, "defs", working_directory=str(PROJECT_ROOT)).get_reconstructable_job(job_name)


def executor_config(kind: str, kind_config: dict | None = None, **run_lock) -> dict:
    config: dict = {"executor": {kind: kind_config or {}}}
    if run_lock:
        config["run_lock"] = run_lock
    return {"execution": {"config": config}}


def execute(instance, module: str, job_name: str, partition: str, kind: str, kind_config: dict | None = None,
            asset_selection=None, **run_lock):
    """Execute the job (or its ``asset_selection``) for ``partition``; return the finished DagsterRun
    (never raises for a failed run)."""
    with dg.execute_job(
        recon_job(module, job_name), instance=instance, run_config=executor_config(kind, kind_config, **run_lock),
        tags={"dagster/partition": partition}, raise_on_error=False,
        asset_selection=list(asset_selection) if asset_selection else None,
    ) as result:
        return instance.get_run_by_id(result.run_id)


def step_events(instance, run_id: str, event_type) -> list:
    return [r.dagster_event for r in instance.all_logs(run_id, of_type=event_type)]


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.scaling.runs MODULE JOB PARTITION KIND [--select KEY ...] [--wait-seconds N]``:
    one run in a process of its own (as a run worker is), on the instance of DAGSTER_HOME; prints
    ``{"run_id": ..., "status": ...}`` as its last line."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m tests.scaling.runs")
    parser.add_argument("module")
    parser.add_argument("job")
    parser.add_argument("partition")
    parser.add_argument("kind")
    parser.add_argument("--select", nargs="*", default=None, help="asset keys (slash-separated paths)")
    parser.add_argument("--wait-seconds", type=int, default=None)
    args = parser.parse_args(argv)
    run_lock = {} if args.wait_seconds is None else {"wait_seconds": args.wait_seconds}
    selection = [dg.AssetKey.from_user_string(k) for k in args.select] if args.select else None
    with dg.DagsterInstance.get() as instance:
        run = execute(instance, args.module, args.job, args.partition, args.kind, asset_selection=selection, **run_lock)
    print(json.dumps({"run_id": run.run_id, "status": run.status.value}), flush=True)


if __name__ == "__main__":
    main()
