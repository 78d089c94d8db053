"""Stages table (JSON rows and markdown) and the README's Performance section.

``ratio`` is always *our seconds / the limit's seconds* (a time multiple): extract + load
≥ 0.8 × the COPY throughput is a ratio ≤ 1.25; pandas ≤ 1.0 × SQL is a ratio ≤ 1.0; the
incremental day's ratio is against the full run (≤ 0.10).

    python -m analytics_pipeline.bench.report [results.json] [--readme README.md]
"""
from __future__ import annotations

import argparse
import json
import os
import platform as platform_module
import re
from pathlib import Path

import psutil

from analytics_pipeline.settings import PROJECT_ROOT

START_MARK, END_MARK = "<!-- bench:start -->", "<!-- bench:end -->"
TARGETS = {
    "full_seconds_L": 600.0,
    "pipeline_rss_mb": 4096.0,
    "extract_load_vs_copy": 1 / 0.8,
    "pandas_vs_sql": 1.0,
    "incremental_share": 0.10,
}
RAW_TABLES = ("organizations", "users", "skills", "courses", "content_items", "user_preferences", "enrollments",
              "assessment_results", "user_skills", "learning_events")
CHILDREN = {"users": ("user_roles",), "courses": ("course_skills",)}
RESOURCE_OF = {"content_items": "content", "user_preferences": "user-preferences",
               "assessment_results": "assessment-results", "user_skills": "user-skills",
               "learning_events": "learning-events"}


def machine_info() -> dict:
    model = platform_module.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform_module.python_version(), "system": platform_module.platform()}


def _raw_table_of(step: dict) -> str | None:
    names = [step["step_key"], *step.get("assets", [])]
    for table in sorted(RAW_TABLES, key=len, reverse=True):
        if any(n == table or n.endswith("/" + table) or n.endswith("__" + table) for n in names):
            return table
    return None


def _category_of(step: dict) -> str | None:
    names = " ".join([step["step_key"], *step.get("assets", [])])
    for name in ("engagement", "performance"):
        if f"{name}_analytics" in names or re.search(rf"\b{name}\b", names.replace("__", " ").replace("/", " ")):
            return name
    return None


def _row(stage, seconds=None, rows=None, limit=None, limit_seconds=None, ratio=None, target=None, met=None,
         value=None) -> dict:
    rps = round(rows / seconds) if rows and seconds else None
    if ratio is None and seconds and limit_seconds:
        ratio = round(seconds / limit_seconds, 3)
    return {"stage": stage, "seconds": None if seconds is None else round(seconds, 3), "rows": rows,
            "rows_per_s": rps, "limit": limit, "limit_seconds": limit_seconds, "ratio": ratio,
            "target": target, "met": met, "value": value}


def _span(steps: list[dict]) -> float | None:
    starts = [s["start"] for s in steps if s.get("start")]
    ends = [s["end"] for s in steps if s.get("end")]
    return max(ends) - min(starts) if starts and ends else None


def build_stages(results: dict) -> list[dict]:
    rows: list[dict] = []
    full = results.get("full") or {}
    steps = full.get("steps", [])
    copy = results.get("copy_limit", {})
    transfer = results.get("transfer_limit", {})
    sql = {k: v["sql"]["seconds"] for k, v in (results.get("in_database") or {}).items()}
    is_large = results.get("profile") == "L"

    source_steps = []
    for step in steps:
        group = ",".join(step.get("groups") or []) or "-"
        table = _raw_table_of(step)
        category = _category_of(step)
        label = f"{group}: {step['step_key']}" + ("" if step.get("status") == "success" else f" ({step.get('status')})")
        if table and table in copy:
            source_steps.append(step)
            limits = [copy[t] for t in (table, *CHILDREN.get(table, ())) if t in copy]  # the table and its children
            limit_s = sum(c["seconds"] for c in limits)
            ratio = round(step["seconds"] / limit_s, 3) if step.get("seconds") and limit_s else None
            rows.append(_row(label, step.get("seconds"), step.get("rows"), f"COPY {table}", limit_s, ratio,
                             f"<= {TARGETS['extract_load_vs_copy']:.2f}x", None if ratio is None else ratio <= TARGETS["extract_load_vs_copy"]))
            if step.get("seconds") and any("seconds_with_keys" in c for c in limits):
                keyed = sum(c.get("seconds_with_keys", c["seconds"]) for c in limits)  # + the foreign-key checks
                rows[-1]["limit_with_keys_seconds"] = round(keyed, 3)
                rows[-1]["ratio_vs_copy_with_keys"] = round(step["seconds"] / keyed, 3)
            resource = RESOURCE_OF.get(table, table)
            if resource in transfer and step.get("seconds"):
                rows[-1]["transfer_seconds"] = transfer[resource]["seconds"]
                rows[-1]["ratio_vs_transfer"] = round(step["seconds"] / transfer[resource]["seconds"], 3)
        elif category and category in sql:
            ratio = round(step["seconds"] / sql[category], 3) if step.get("seconds") and sql[category] else None
            rows.append(_row(label, step.get("seconds"), step.get("rows"), f"SQL {category}", sql[category], ratio,
                             f"<= {TARGETS['pandas_vs_sql']:.1f}x", None if ratio is None else ratio <= TARGETS["pandas_vs_sql"]))
        else:
            rows.append(_row(label, step.get("seconds"), step.get("rows")))

    if source_steps:
        span = _span(source_steps)
        tables = {_raw_table_of(s) for s in source_steps}
        limit_s = sum(v["seconds"] for k, v in copy.items() if k in tables or any(k in CHILDREN.get(t, ()) for t in tables))
        n = sum(s.get("rows") or 0 for s in source_steps) or None
        ratio = round(span / limit_s, 3) if span and limit_s else None
        rows.append(_row("sources: extract + load, all endpoints (wall span)", span, n, "COPY all raw tables", limit_s,
                         ratio, f"<= {TARGETS['extract_load_vs_copy']:.2f}x",
                         None if ratio is None else ratio <= TARGETS["extract_load_vs_copy"]))
        t_limit = sum(v["seconds"] for v in transfer.values())
        rows.append(_row("sources: extraction vs raw transfer", span, n, "HTTP transfer, all endpoints", t_limit,
                         round(span / t_limit, 3) if span and t_limit else None))
    if copy:
        rows.append(_row("limit: COPY from local CSV, all raw tables", sum(v["seconds"] for v in copy.values()),
                         sum(v["rows"] for v in copy.values())))
    if transfer:
        state = (results.get("sandbox") or {}).get("state", {}).get("counts", {})
        rows.append(_row("limit: HTTP transfer, all endpoints (no parsing)", sum(v["seconds"] for v in transfer.values()),
                         sum(state.get(r, 0) for r in transfer) or None,
                         value=f"{sum(v['bytes'] for v in transfer.values()) / 2**20:.0f} MB"))
    for name, entry in (results.get("in_database") or {}).items():
        rows.append(_row(f"in-database: {name} (one SQL statement)", entry["sql"]["seconds"], entry["sql"]["rows"]))
        timing = entry["pandas_in_process"]
        ratio = round(timing["compute_seconds"] / entry["sql"]["seconds"], 3) if entry["sql"]["seconds"] else None
        rows.append(_row(f"pandas: {name} compute only (read {timing['read_seconds']:.1f} s apart)", timing["compute_seconds"],
                         timing["rows"], f"SQL {name}", entry["sql"]["seconds"], ratio, f"<= {TARGETS['pandas_vs_sql']:.1f}x",
                         None if ratio is None else ratio <= TARGETS["pandas_vs_sql"]))
        check = entry["check"]
        rows.append(_row(f"check: {name} pandas ({entry['compared_with']}) = SQL", None, check["learners_compared"],
                         value=f"{check['mismatched_learners']} mismatches", met=check["passed"], target="equal within tolerance"))
    run = full.get("run") or {}
    full_seconds = run.get("seconds") or full.get("wall_seconds")
    if full:
        rows.append(_row("full nightly run (event log, run start to end)", full_seconds,
                         sum(s.get("rows") or 0 for s in steps) or None,
                         target=f"<= {TARGETS['full_seconds_L']:.0f} s at L",
                         met=(full_seconds <= TARGETS["full_seconds_L"]) if is_large and full_seconds else None,
                         value=f"wall {full.get('wall_seconds')} s incl. process start"))
        pipeline = (full.get("peak_rss") or {}).get("pipeline", {})
        rows.append(_row("peak RSS: pipeline process tree", target=f"<= {TARGETS['pipeline_rss_mb']:.0f} MB",
                         met=pipeline.get("rss_sum_mb", 0) <= TARGETS["pipeline_rss_mb"] if pipeline else None,
                         value=f"{pipeline.get('rss_sum_mb')} MB (largest process {pipeline.get('rss_max_process_mb')} MB)"))
        pg = (full.get("peak_rss") or {}).get("postgres", {})
        rows.append(_row("peak RSS: PostgreSQL", value=f"{pg.get('rss_est_mb')} MB est. ({pg.get('rss_sum_mb')} MB summed)"))
        rows.append(_load_row("machine load during the full run", pipeline))
        rows.append(_startup_row("step process start-up during the full run", steps))
    inc = results.get("incremental")
    if inc:
        inc_seconds = (inc.get("run") or {}).get("seconds") or inc.get("wall_seconds")
        share = round(inc_seconds / full_seconds, 3) if inc_seconds and full_seconds else None
        rows.append(_row("incremental: next day", inc_seconds, sum(s.get("rows") or 0 for s in inc.get("steps", [])) or None,
                         "full run", full_seconds, share, f"<= {TARGETS['incremental_share']:.2f}x",
                         None if share is None else share <= TARGETS["incremental_share"]))
        rows.append(_load_row("machine load during the next day's run",
                              (inc.get("peak_rss") or {}).get("pipeline", {})))
        rows.append(_startup_row("step process start-up during the next day's run", inc.get("steps", [])))
    return rows


def _startup_row(stage: str, steps: list[dict]) -> dict:
    """Summed STEP_WORKER_STARTING -> STEP_START of the steps that ran in a process of their own
    (DAGSTER_START_METHOD: forkserver or spawn)."""
    startups = [s["startup_seconds"] for s in steps if s.get("startup_seconds") is not None]
    if not startups:
        return _row(stage, value="no step processes")
    return _row(stage, round(sum(startups), 1), len(startups),
                value=f"{len(startups)} processes, {min(startups):.2f}-{max(startups):.2f} s each")


def _load_row(stage: str, sampled: dict) -> dict:
    """The 1-minute load average sampled while the run's process tree was watched (2 cores:
    above 2 something else competed for them)."""
    if sampled.get("load1_mean") is None:
        return _row(stage, value="not sampled")
    return _row(stage, value=f"1-min load mean {sampled['load1_mean']}, max {sampled['load1_max']}")


def _fmt(value, digits=1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(results: dict) -> str:
    lines = ["| stage | seconds | rows | rows/s | ratio vs limit | target | met? |", "|---|---:|---:|---:|---|---|---|"]
    for row in results.get("stages") or build_stages(results):
        ratio = "—"
        if row.get("ratio") is not None:
            ratio = f"{row['ratio']:.2f}x {row.get('limit') or ''}".strip()
        if row.get("value"):
            ratio = row["value"] if ratio == "—" else f"{ratio}; {row['value']}"
        if row.get("ratio_vs_copy_with_keys") is not None:
            ratio += f"; {row['ratio_vs_copy_with_keys']:.2f}x COPY with its foreign keys"
        if row.get("ratio_vs_transfer") is not None:
            ratio += f"; {row['ratio_vs_transfer']:.2f}x transfer"
        lines.append(f"| {row['stage']} | {_fmt(row.get('seconds'))} | {_fmt(row.get('rows'))} | "
                     f"{_fmt(row.get('rows_per_s'))} | {ratio} | {row.get('target') or '—'} | {_fmt(row.get('met'))} |")
    return "\n".join(lines)


def performance_section(results: dict) -> str:
    machine = results.get("machine", {})
    spec = results.get("profile_spec", {})
    counts = (results.get("sandbox") or {}).get("state", {}).get("counts", {})
    return "\n".join([
        START_MARK,
        f"Latest `make bench PROFILE={results.get('profile')}` ({results.get('started_at', '')[:16]} UTC): "
        f"{spec.get('learners', '?'):,} learners, {counts.get('learning-events', 0):,} learning events visible; "
        f"machine: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('ram_gb')} GB RAM.",
        "",
        markdown_table(results),
        "",
        "Ratios are our seconds over the limit's seconds (COPY of the same rows from a local CSV, raw HTTP "
        "transfer of the same pages, one SQL statement per analytics category). Full results: "
        f"`{Path(results.get('results_file', '')).name or 'bench/results/'}`.",
        END_MARK,
    ])


def latest_results(folder: Path = PROJECT_ROOT / "bench" / "results", profile: str = "L") -> Path | None:
    found = sorted(folder.glob(f"{profile}-*.json")) or sorted(folder.glob("*.json"))
    return found[-1] if found else None


def update_readme(results_path: Path | None = None, readme: Path = PROJECT_ROOT / "README.md") -> Path:
    """Replace the README's Performance section (between the markers) with ``results_path`` (default:
    the latest L results, else the latest of any profile); add the section if the markers are missing."""
    results_path = results_path or latest_results()
    if results_path is None:
        raise FileNotFoundError("no bench/results/*.json yet: run `make bench PROFILE=L` first")
    results = json.loads(Path(results_path).read_text())
    results.setdefault("results_file", str(results_path))
    section = performance_section(results)
    text = readme.read_text()
    if START_MARK in text and END_MARK in text:
        text = re.sub(re.escape(START_MARK) + r".*?" + re.escape(END_MARK), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Performance\n\n" + section + "\n"
    readme.write_text(text)
    return results_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics_pipeline.bench.report")
    parser.add_argument("results", nargs="?", type=Path, help="results JSON (default: the latest L)")
    parser.add_argument("--readme", type=Path, default=None, help="update this README's Performance section")
    args = parser.parse_args(argv)
    path = args.results or latest_results()
    if path is None:
        print("no results yet")
        return 1
    if args.readme:
        update_readme(path, args.readme)
        print(f"updated {args.readme} from {path}")
    else:
        print(markdown_table(json.loads(Path(path).read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
