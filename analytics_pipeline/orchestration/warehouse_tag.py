"""Which warehouse a run wrote to, as the run tag ``analytics_pipeline/warehouse``
(``host:port/database`` of ``DATABASE_URL``, never a user or password).

Two places set it: the jobs carry it (``jobs.py``: the nightly job, its schedule and backfills,
`make run`), and the run coordinator of ``dagster.yaml`` adds it to every other run it queues
(an asset materialized from the UI). Filter the Runs page by this tag to see one warehouse's runs.
"""
from __future__ import annotations

import dagster as dg
from dagster._core.run_coordinator.base import SubmitRunContext

from analytics_pipeline.settings import env
from analytics_pipeline.warehouse.urls import warehouse_label

WAREHOUSE_TAG = "analytics_pipeline/warehouse"


def warehouse_tags() -> dict[str, str]:
    """``{WAREHOUSE_TAG: host:port/database}`` of ``DATABASE_URL``; empty when it is unset."""
    url = env("DATABASE_URL")
    return {WAREHOUSE_TAG: warehouse_label(url)} if url else {}


class WarehouseTaggingRunCoordinator(dg.QueuedRunCoordinator):
    """Dagster's queued run coordinator that tags every run it queues with the warehouse of the
    instance's process (the tag a job already carries wins)."""

    def submit_run(self, context: SubmitRunContext):
        run = context.dagster_run
        missing = {k: v for k, v in warehouse_tags().items() if k not in run.tags}
        if missing:
            self._instance.add_run_tags(run.run_id, missing)
            run = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(run, context.workspace)
        return super().submit_run(context)
