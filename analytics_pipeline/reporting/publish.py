"""Writing the report's files: the dated page and ``latest.html`` (no database, no Dagster)."""
from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path


def write_report(folder: Path, partition: str, html_text: str) -> Path:
    """``folder/analyst_report_<partition>.html`` (the folder created when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"analyst_report_{partition}.html"
    path.write_text(html_text, encoding="utf-8")
    return path


def publish_latest(folder: Path, partition: str, materialized_days: Callable[[], Iterable[str]]) -> tuple[str, bool]:
    """Copy this day's report to ``latest.html`` when it is the newest day: of the days
    ``materialized_days()`` names (the asset's materialized partitions) and of the dated report
    files (this run's is written already). A backfill of an older day leaves latest.html alone.
    Under an exclusive lock on the folder, so a backfill run finishing beside the nightly run cannot
    put an older day back. Returns (newest day, is this it)."""
    with open(folder / ".latest.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        days = set(materialized_days())
        days |= {p.stem.removeprefix("analyst_report_") for p in folder.glob("analyst_report_????-??-??.html")}
        newest = max(days | {partition})
        if partition >= newest:
            temporary = folder / f".latest.{partition}.tmp"
            shutil.copyfile(folder / f"analyst_report_{partition}.html", temporary)
            os.replace(temporary, folder / "latest.html")
    return newest, partition >= newest
