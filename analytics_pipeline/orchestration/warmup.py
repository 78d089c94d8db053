"""Warm-up of a run that executes its steps in one process (the ``in_process`` executor).

Great Expectations is imported lazily, on the first validation (``quality.validation``): ~4 s of
CPU, most of the first learner-analytics step of a small run. When the run's plan holds a
learner-analytics snapshot validated by GX (the default engine), :func:`start` imports it and
builds the validation definitions of those suites in a background thread as the run starts,
so the import overlaps the extraction steps' waits on the LMS and the warehouse (the GIL is
free while they wait). It builds exactly what the first ``validate`` of each suite would build,
under the same lock, so the outcome is the same with or without it; if the warm-up fails, the
step that validates imports and fails as it would have.

Other executors run each step in its own process: a warm-up in the run's process would only
cost CPU there, so none is started (see ``executors.RunLockedExecutor``).
"""
from __future__ import annotations

import logging
import threading
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


def _warm_gx(suites: list[str]) -> None:
    try:
        from analytics_pipeline.quality.validation import warm_up

        warm_up(suites)
    except Exception:  # the step that validates meets the same error, where it is reported
        log.debug("GX warm-up failed", exc_info=True)


def start(step_keys: Iterable[str], run_config: Mapping | None) -> threading.Thread | None:
    """Start the warm-up of a run of ``step_keys`` in a daemon thread; None when it needs none."""
    suites = gx_suites(step_keys, run_config)
    if not suites:
        return None
    thread = threading.Thread(target=_warm_gx, args=(suites,), name="analytics-warm-up", daemon=True)
    thread.start()
    return thread
