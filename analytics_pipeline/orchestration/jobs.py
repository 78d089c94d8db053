"""Jobs: the nightly run of the whole graph for one logical day."""
from __future__ import annotations

import dagster as dg

from analytics_pipeline.orchestration.executors import select_executor
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY_PARTITIONS,
    executor_def=select_executor(),
    description="Sources → learner analytics → gamification → aggregates → predictive → governance, for one day.",
)

JOBS = [nightly_job]
