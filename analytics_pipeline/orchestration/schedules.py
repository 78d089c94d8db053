"""Schedules: the nightly run (previous day's partition) and the hourly leaderboard refresh.

Both start RUNNING, so they fire whenever the Dagster daemon runs (``make ui`` starts it) and
both are visible in the UI. Cron and time zone of the nightly one come from the settings
(``NIGHTLY_CRON``, default ``0 2 * * *``; ``SCHEDULE_TIMEZONE``, default ``UTC``).

- ``nightly_schedule`` asks for the last *complete* UTC day at the tick (the partitions are
  UTC days, T = the day's end): a tick at 02:00 Europe/Berlin on 11 March runs partition
  2024-03-10. ``run_key`` = the partition, so a tick evaluated twice launches one run.
- ``leaderboard_refresh_schedule`` every hour at minute 0 (``run_key`` = the hour). A tick the
  daemon evaluates more than ``HOURLY_MAX_LATENESS`` late (the daemon just started and catches up
  the hour it missed) is skipped: the leaderboards are refreshed at the next hour, not the moment
  `make ui` starts.

A failed nightly step is re-executed from the UI (run → "Re-execute from failure") or with
``dagster job backfill``; every asset is idempotent (docs/gamification.md).
"""
from __future__ import annotations

import dagster as dg
import pandas as pd

from analytics_pipeline.orchestration.jobs import leaderboard_refresh_job, nightly_job
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS
from analytics_pipeline.settings import env

HOURLY_CRON = "0 * * * *"
HOURLY_MAX_LATENESS = pd.Timedelta(minutes=15)


def previous_day_partition(scheduled_time) -> str:
    """The last complete partition (UTC day) at ``scheduled_time``."""
    t = pd.Timestamp(scheduled_time)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    # the day that contains t - 1 day is the last one that ended at or before t
    return DAILY_PARTITIONS.get_partition_key_for_timestamp((t - pd.Timedelta(days=1)).timestamp())


def _running_schedule(name: str, cron: str, timezone: str, job, description: str):
    """``dg.schedule`` decorator for a schedule that starts RUNNING (visible and firing with the daemon)."""
    return dg.schedule(
        name=name,
        cron_schedule=cron,
        execution_timezone=timezone,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )


def build_nightly_schedule(cron: str | None = None, timezone: str | None = None) -> dg.ScheduleDefinition:
    cron = cron or env("NIGHTLY_CRON")
    timezone = timezone or env("SCHEDULE_TIMEZONE")

    @_running_schedule("nightly_schedule", cron, timezone, nightly_job,
                       f"The nightly job for the previous UTC day, at {cron} ({timezone}).")
    def _nightly(context: dg.ScheduleEvaluationContext):
        partition = previous_day_partition(context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"nightly:{partition}", partition_key=partition,
                             tags={"trigger": "nightly_schedule"})

    return _nightly


def build_leaderboard_schedule(timezone: str | None = None) -> dg.ScheduleDefinition:
    timezone = timezone or env("SCHEDULE_TIMEZONE")

    @_running_schedule("leaderboard_refresh_schedule", HOURLY_CRON, timezone, leaderboard_refresh_job,
                       "Refresh the weekly and monthly leaderboards every hour.")
    def _hourly(context: dg.ScheduleEvaluationContext):
        scheduled = pd.Timestamp(context.scheduled_execution_time).tz_convert("UTC")
        hour = scheduled.strftime("%Y-%m-%dT%H")
        late = pd.Timestamp.now(tz="UTC") - scheduled
        if late > HOURLY_MAX_LATENESS:
            return dg.SkipReason(f"The {hour}:00 tick is {late.round('s')} late (the daemon just started): "
                                 "the next hourly tick refreshes the leaderboards.")
        return dg.RunRequest(run_key=f"leaderboard_refresh:{hour}", tags={"trigger": "leaderboard_refresh_schedule"})

    return _hourly


nightly_schedule = build_nightly_schedule()
leaderboard_refresh_schedule = build_leaderboard_schedule()

SCHEDULES = [nightly_schedule, leaderboard_refresh_schedule]
