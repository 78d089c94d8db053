"""Warm-up of a run that executes its steps in one process (the ``in_process`` executor).

Two libraries are imported lazily, where they are first used: Great Expectations on the first
validation (``quality.validation``; ~4 s of CPU, most of the first learner-analytics step of a
small run) and scikit-learn where the drop-off model is fitted (``predictive.drop_off._fit``;
~2 s). As the run starts, :func:`start` does in a background thread what the run's plan will
need of them, so the imports overlap the steps' waits on the LMS and the warehouse (the GIL is
free while they wait):

- GX: imported, and the validation definitions built, of the suites of the learner-analytics
  snapshots in the plan validated by GX (the default engine) — exactly what the first
  ``validate`` of each suite would build, under the same lock;
- scikit-learn: imported when ``predictive_drop_off_risk`` is in the plan and will train, i.e.
  no stored model is valid at the partition's T (``predictive.store.load_model``, as
  ``store.drop_off_run`` decides); a run that reuses the
  model never imports it.

The outcome is the same with or without the warm-up; if it fails, the step that needs the library
imports it and fails as it would have.

Other executors run each step in its own process: a warm-up in the run's process would only
cost CPU there, so none is started (see ``executors.RunLockedExecutor``).
"""
from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)


def gx_suites(step_keys: Iterable[str], run_config: Mapping | None) -> list[str]:
    """The quality suites GX will validate in a run of ``step_keys``: one per learner-analytics
    snapshot step whose ``quality_engine`` is ``gx`` (the default)."""
    from analytics_pipeline.analytics import CATEGORIES

    ops = (run_config or {}).get("ops") or {}
    by_table = {table: name for name, (_fn, table) in CATEGORIES.items()}
    suites = []
    for step in step_keys:
        name = by_table.get(step)
        engine = (((ops.get(step) or {}).get("config") or {}).get("quality_engine")) or "gx"
        if name is not None and engine == "gx":
            suites.append(name)
    return suites


DROP_OFF_STEP = "predictive_drop_off_risk"


def drop_off_will_train(step_keys: Iterable[str], partition: str | None) -> bool:
    """Whether the plan's drop-off step will fit a model: no stored model valid at T (the end of
    ``partition``), as the asset itself decides; False without a partition or a warehouse."""
    database_url = os.environ.get("DATABASE_URL")
    if DROP_OFF_STEP not in step_keys or not partition or not database_url:
        return False
    import pandas as pd

    from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS
    from analytics_pipeline.predictive.store import load_model  # the asset's own lookup (store.drop_off_run)
    from analytics_pipeline.warehouse.engine import make_engine

    T = pd.Timestamp(DAILY_PARTITIONS.time_window_for_partition_key(partition).end).tz_convert("UTC")  # snapshot_instant
    with make_engine(database_url).connect() as conn:
        return load_model(conn, "drop_off_risk", T) is None


def _warm(suites: list[str], step_keys: list[str], partition: str | None) -> None:
    started = time.perf_counter()
    try:
        if suites:
            from analytics_pipeline.quality.validation import warm_up

            warm_up(suites)
            log.info("warm-up: GX suites %s built in %.1f s", ", ".join(suites), time.perf_counter() - started)
        if drop_off_will_train(step_keys, partition):
            from analytics_pipeline.predictive.drop_off import FIT_MODULES

            for module in FIT_MODULES:
                importlib.import_module(module)
            log.info("warm-up: scikit-learn imported after %.1f s", time.perf_counter() - started)
    except Exception:  # the step that needs the library meets the same error, where it is reported
        log.info("warm-up failed (the step that needs the library reports the error)", exc_info=True)


def start(step_keys: Iterable[str], run_config: Mapping | None, partition: str | None = None) -> threading.Thread | None:
    """Start the warm-up of a run of ``step_keys`` (for ``partition``) in a daemon thread; None
    when the plan needs neither library."""
    step_keys = list(step_keys)
    suites = gx_suites(step_keys, run_config)
    if not suites and DROP_OFF_STEP not in step_keys:
        return None
    thread = threading.Thread(target=_warm, args=(suites, step_keys, partition), name="analytics-warm-up", daemon=True)
    thread.start()
    return thread
