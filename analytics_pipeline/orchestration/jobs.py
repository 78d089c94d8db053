"""Jobs: the nightly run of the whole graph for one logical day, and the hourly leaderboard refresh."""
from __future__ import annotations

import dagster as dg

from analytics_pipeline.orchestration.executors import select_executor
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS
from analytics_pipeline.orchestration.warehouse_tag import warehouse_tags

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY_PARTITIONS,
    executor_def=select_executor(),
    tags=warehouse_tags(),
    description="Sources → learner analytics → gamification → aggregates → predictive → governance, for one day.",
)

# The two leaderboard views only (unpartitioned): points since the start of the UTC week/month.
LEADERBOARD_ASSET_KEYS = ("leaderboard_weekly", "leaderboard_monthly")
leaderboard_refresh_job = dg.define_asset_job(
    "leaderboard_refresh",
    selection=dg.AssetSelection.assets(*LEADERBOARD_ASSET_KEYS),
    tags=warehouse_tags(),
    description="REFRESH MATERIALIZED VIEW CONCURRENTLY of the weekly and monthly leaderboards (hourly).",
)

JOBS = [nightly_job, leaderboard_refresh_job]
