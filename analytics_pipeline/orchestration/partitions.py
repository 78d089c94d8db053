"""The daily partitions of the learner analytics: partition day D has snapshot instant T = D + 1 day.

The first partition is ``PARTITIONS_START`` (the first day of the source's data). Unset, it is
``SANDBOX_START`` or else 90 days before today — the sandbox's day 0 (366 days with
``SANDBOX_REPLAY``: the replay's instant is moved into the past year) — so the UI shows the days
that can hold data, not a wall of empty ones (a fixed 2025-01-01 gave ~700 partitions for 90
days of data). A moving default drops the oldest day from the partition set every day; a
platform with a fixed history sets ``PARTITIONS_START``.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from analytics_pipeline.settings import env

DEFAULT_HISTORY_DAYS = 90
REPLAY_HISTORY_DAYS = 366


def first_partition_day(today: date | None = None) -> date:
    """The first partition day from the settings (see the module's docstring)."""
    for name in ("PARTITIONS_START", "SANDBOX_START"):
        value = env(name).strip()
        if value:
            try:
                return datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a day: expected YYYY-MM-DD, e.g. 2025-09-01.") from None
    today = today or datetime.now(timezone.utc).date()
    # a replayed recording is moved by whole years into the year before today (sandbox/replay.py)
    history = REPLAY_HISTORY_DAYS if env("SANDBOX_REPLAY").strip() else DEFAULT_HISTORY_DAYS
    return today - timedelta(days=history)


DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=first_partition_day().isoformat(), timezone="UTC")


def snapshot_instant(context: dg.AssetExecutionContext) -> pd.Timestamp:
    """T for the run's partition: the end of the logical day (UTC)."""
    window = context.partition_time_window
    return pd.Timestamp(window.end).tz_convert("UTC")
