"""The daily partitions begin at a configured first day, not at a fixed 2025-01-01."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from analytics_pipeline.orchestration.partitions import first_partition_day
from analytics_pipeline.settings import PROJECT_ROOT


def test_first_day_comes_from_the_setting(monkeypatch):
    monkeypatch.setenv("PARTITIONS_START", "2026-08-01")
    monkeypatch.setenv("SANDBOX_START", "2026-01-01")
    assert first_partition_day() == date(2026, 8, 1)
    monkeypatch.delenv("PARTITIONS_START")
    assert first_partition_day() == date(2026, 1, 1)  # the sandbox's day 0
    monkeypatch.delenv("SANDBOX_START")
    assert first_partition_day(today=date(2026, 11, 29)) == date(2026, 8, 31)  # 90 days back


def test_a_replay_gets_the_past_year_of_partitions(monkeypatch):
    """The replay moves its instant into the year before today: its day must be a partition."""
    from analytics_pipeline.sandbox.replay import ReplayPlatform

    for name in ("PARTITIONS_START", "SANDBOX_START"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANDBOX_REPLAY", "reference/data/oulad-2013")
    assert first_partition_day(today=date(2026, 11, 29)) == date(2025, 11, 28)
    now = datetime.fromtimestamp(ReplayPlatform(PROJECT_ROOT / "reference/data/oulad-2013", "2013J:0.25", "auto").now, timezone.utc)
    assert first_partition_day() <= now.date() < datetime.now(timezone.utc).date()


def test_a_bad_first_day_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("PARTITIONS_START", "01/08/2026")
    with pytest.raises(ValueError, match=r"PARTITIONS_START='01/08/2026' is not a day: expected YYYY-MM-DD"):
        first_partition_day()


def test_the_default_graph_has_about_ninety_partitions():
    env = {k: v for k, v in os.environ.items() if k not in ("PARTITIONS_START", "SANDBOX_START")}
    out = subprocess.run(
        [sys.executable, "-c", "from analytics_pipeline.orchestration.jobs import nightly_job as j; "
         "keys = j.partitions_def.get_partition_keys(); print(len(keys), keys[0])"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    today = datetime.now(timezone.utc).date()
    assert out[1] == (today - timedelta(days=90)).isoformat()
    assert 89 <= int(out[0]) <= 91, out  # not ~700 empty days since 2025-01-01
