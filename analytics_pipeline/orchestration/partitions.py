"""The daily partitions of the learner analytics: partition day D has snapshot instant T = D + 1 day."""
from __future__ import annotations

import dagster as dg
import pandas as pd

DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")


def snapshot_instant(context: dg.AssetExecutionContext) -> pd.Timestamp:
    """T for the run's partition: the end of the logical day (UTC)."""
    window = context.partition_time_window
    return pd.Timestamp(window.end).tz_convert("UTC")
