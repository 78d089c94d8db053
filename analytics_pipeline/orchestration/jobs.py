"""Jobs: the nightly run of the whole graph for one logical day, the legal duties of a day on their
own, and the hourly leaderboard refresh."""
from __future__ import annotations

import dagster as dg

from analytics_pipeline.orchestration.executors import select_executor
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS
from analytics_pipeline.orchestration.warehouse_tag import warehouse_tags

# The code location of workspace.yaml (python_module analytics_pipeline.definitions) as the UI names
# it. Runs started by `dagster job execute` (`make run`) carry no repository tag, so the job's own
# Runs tab — which filters on this tag — said "No runs found"; the jobs carry it themselves.
REPOSITORY_LABEL = "__repository__@analytics_pipeline.definitions"
RUN_TAGS = {".dagster/repository": REPOSITORY_LABEL, **warehouse_tags()}

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY_PARTITIONS,
    executor_def=select_executor(),
    tags=RUN_TAGS,
    description="Sources → learner analytics → gamification → aggregates → predictive → governance, for one day.",
)

# Retention and erasure (and their checks) alone: what the law requires every night, whatever
# else failed. Launched by the ``legal_duties_after_nightly`` sensor when a nightly run ends
# without having applied them (assets/legal_duties.py, docs/governance.md).
LEGAL_DUTY_ASSET_KEYS = ("retention", "erasure")
legal_duties_job = dg.define_asset_job(
    "legal_duties",
    selection=dg.AssetSelection.assets(*LEGAL_DUTY_ASSET_KEYS),
    partitions_def=DAILY_PARTITIONS,
    executor_def=select_executor(),
    tags=RUN_TAGS,
    description="Retention and erasure for one day, with their checks; depends on no other asset, so no failure "
                "elsewhere can skip it. Run after every nightly run that did not apply them.",
)

# The two leaderboard views only (unpartitioned): points since the start of the UTC week/month.
LEADERBOARD_ASSET_KEYS = ("leaderboard_weekly", "leaderboard_monthly")
leaderboard_refresh_job = dg.define_asset_job(
    "leaderboard_refresh",
    selection=dg.AssetSelection.assets(*LEADERBOARD_ASSET_KEYS),
    tags=RUN_TAGS,
    description="REFRESH MATERIALIZED VIEW CONCURRENTLY of the weekly and monthly leaderboards (hourly).",
)

JOBS = [nightly_job, legal_duties_job, leaderboard_refresh_job]
