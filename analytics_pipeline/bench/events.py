"""Per-step durations of a Dagster run, read from its event log (nothing hard-coded about the
graph: every step that ran is reported, so the benchmark grows with the asset graph).

For each step key: STEP_START -> STEP_SUCCESS / STEP_FAILURE timestamps, the step process's
start-up (STEP_WORKER_STARTING -> STEP_START; None in process), the asset keys it
materialized, their group names (from the code location's asset graph) and the rows it reports
(materialization metadata: the first of ``ROW_KEYS`` present, else the largest numeric entry
whose name contains "row"); the step's short metadata values are kept too.
"""
from __future__ import annotations

import dagster as dg

STEP_EVENTS = {
    dg.DagsterEventType.STEP_WORKER_STARTING,
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
}


ROW_KEYS = ("rows_received", "rows_written", "rows_loaded", "rows", "dagster/row_count")


def asset_groups() -> dict[str, str]:
    """``asset key (a/b) -> group name`` of the code location (empty if it cannot be loaded)."""
    try:
        from analytics_pipeline.definitions import defs

        graph = defs.resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).group_name or "default" for key in graph.get_all_asset_keys()}
    except Exception:  # noqa: BLE001 - the benchmark still reports steps without groups
        return {}


def _short(value) -> bool:
    """A metadata value kept in the results: a number, a short text, or a small flat dict of
    numbers (the snapshot steps' ``seconds_by_phase``)."""
    if isinstance(value, dict):
        return len(value) <= 20 and all(isinstance(v, (int, float)) for v in value.values())
    return isinstance(value, (int, float, str)) and len(str(value)) < 200


def _rows(metadata: dict) -> int | None:
    values = {}
    for name, value in (metadata or {}).items():
        raw = getattr(value, "value", value)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            continue
        values[name] = raw
    for name in ROW_KEYS:  # rows this run handled first, the table's total (dagster/row_count) after
        if name in values:
            return int(values[name])
    candidates = [v for k, v in values.items() if "row" in k.lower() and "share" not in k.lower()]
    return int(max(candidates)) if candidates else None


def find_run_id(instance: dg.DagsterInstance, bench_id: str) -> str | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"bench/id": bench_id}), limit=1)
    return runs[0].run_id if runs else None


def step_timings(instance: dg.DagsterInstance, run_id: str, groups: dict[str, str] | None = None) -> dict:
    """``{"run": {...}, "steps": [{step_key, seconds, status, assets, groups, rows, start, end}]}``."""
    groups = groups if groups is not None else asset_groups()
    steps: dict[str, dict] = {}
    run = {"run_id": run_id, "start": None, "end": None, "status": None}
    for entry in instance.all_logs(run_id, of_type=STEP_EVENTS):
        event = entry.dagster_event
        kind = event.event_type
        if kind == dg.DagsterEventType.RUN_START:
            run["start"] = entry.timestamp
            continue
        if kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
            run["end"], run["status"] = entry.timestamp, "success" if kind == dg.DagsterEventType.RUN_SUCCESS else "failure"
            continue
        key = entry.step_key or event.step_key
        if key is None:
            continue
        step = steps.setdefault(key, {"step_key": key, "start": None, "end": None, "status": None,
                                      "assets": [], "groups": [], "rows": None})
        if kind == dg.DagsterEventType.STEP_WORKER_STARTING:
            step["worker_starting"] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_START:
            step["start"] = entry.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            step["end"] = entry.timestamp
            step["status"] = "success" if kind == dg.DagsterEventType.STEP_SUCCESS else "failure"
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            asset = materialization.asset_key.to_user_string()
            step["assets"].append(asset)
            group = groups.get(asset)
            if group and group not in step["groups"]:
                step["groups"].append(group)
            values = {name: getattr(value, "value", value) for name, value in (materialization.metadata or {}).items()}
            step.setdefault("metadata", {}).update({name: v for name, v in values.items() if _short(v)})
            rows = _rows(materialization.metadata)
            if rows is not None:
                step["rows"] = (step["rows"] or 0) + rows
    out = []
    for step in steps.values():
        step["seconds"] = round(step["end"] - step["start"], 3) if step["start"] and step["end"] else None
        starting = step.pop("worker_starting", None)
        step["startup_seconds"] = round(step["start"] - starting, 3) if starting and step["start"] else None
        out.append(step)
    out.sort(key=lambda s: (s["start"] or 0, s["step_key"]))
    if run["start"] and run["end"]:
        run["seconds"] = round(run["end"] - run["start"], 3)
    return {"run": run, "steps": out}
