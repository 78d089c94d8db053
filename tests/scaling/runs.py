"""Running jobs of the project's code location (or of the probe definitions) the way Dagster's
run workers do: as reconstructable jobs against a persistent Postgres-backed instance."""
from __future__ import annotations

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from analytics_pipeline.settings import PROJECT_ROOT

PROJECT_MODULE = "analytics_pipeline.definitions"
PROBE_MODULE = "tests.scaling.probe_defs"


def recon_job(module: str, job_name: str):
    return ReconstructableRepository.for_module(module, "defs", working_directory=str(PROJECT_ROOT)).get_reconstructable_job(job_name)


def executor_config(kind: str, kind_config: dict | None = None, **run_lock) -> dict:
    config: dict = {"executor": {kind: kind_config or {}}}
    if run_lock:
        config["run_lock"] = run_lock
    return {"execution": {"config": config}}


def execute(instance, module: str, job_name: str, partition: str, kind: str, kind_config: dict | None = None, **run_lock):
    """Execute the job for ``partition``; return the finished DagsterRun (never raises for a failed run)."""
    with dg.execute_job(
        recon_job(module, job_name), instance=instance, run_config=executor_config(kind, kind_config, **run_lock),
        tags={"dagster/partition": partition}, raise_on_error=False,
    ) as result:
        return instance.get_run_by_id(result.run_id)


def step_events(instance, run_id: str, event_type) -> list:
    return [r.dagster_event for r in instance.all_logs(run_id, of_type=event_type)]
