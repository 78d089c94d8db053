"""Measure the six learner analytics on a synthetic warehouse: rows/s and peak memory.

A script, not part of the pure layer's API (it is the one module of ``analytics`` that
touches the database: it drives ``analytics.store.run_snapshot``, the code the
Dagster assets run, without Dagster).

    python -m analytics_pipeline.bench.analytics_steps --learners 25000 \\
        --server-url postgresql://postgres@127.0.0.1:5432/postgres [--chunk-learners 20000]

Creates a throw-away database on the server (``--url`` uses an existing, migrated one and
skips generation with ``--no-generate``), generates raw rows with numpy and COPYs them, then
runs each category in its own subprocess (so ``ru_maxrss`` is that category's peak) and
prints one JSON line per category plus a table (``seconds`` wall, ``cpu_seconds`` of the
Python process: the database's own work is not in it). Reusable by the benchmark: ``generate(engine,
learners, T, seed)`` and ``measure_one(url, name, T, chunk_learners)``.

Synthetic shape per learner (defaults): 2 enrollments (of 60 courses, 10 % completed and
5 % withdrawn), 4 skill levels (of 20 skills), 40 learning events over 120 days on the
courses' 12 items each, 8 assessment results with a skill over 120 days.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid

import numpy as np
import pandas as pd

T_DEFAULT = "2025-06-01T00:00:00Z"
NAMES = ["velocity", "skill_gap", "engagement", "mastery", "performance",
         "content_effectiveness"]
TYPES = np.array(["video", "reading", "quiz", "exercise", "project"], dtype=object)


def generate(engine, learners: int, T: pd.Timestamp, seed: int = 7, events_per_learner: int = 40,
             results_per_learner: int = 8, courses: int = 60, skills: int = 20,
             items_per_course: int = 12, course_skill_results: bool = False) -> dict[str, int]:
    """COPY a synthetic raw warehouse of ``learners`` learners into ``engine``'s database.

    ``course_skill_results``: results on the skills of the learner's own courses (as on the
    platform: assessments follow the content), which makes the content-effectiveness evidence
    (events x results of a learner on a skill) as dense as the benchmark's; default: results
    on the learner's skill-level skills (mostly unrelated to their events).
    """
    from analytics_pipeline.warehouse.bulk import copy_frame

    rng = np.random.default_rng(seed)
    T = pd.Timestamp(T)
    day = pd.Timedelta(days=1)
    created = T - 400 * day
    uid = np.array([f"u{i:07d}" for i in range(learners)], dtype=object)
    orgs = pd.DataFrame({"id": [f"o{i}" for i in range(25)], "name": "Org",
                         "created_at": created, "updated_at": created})
    users = pd.DataFrame({"id": uid, "email": [f"{u}@example.org" for u in uid],
                          "organization_id": rng.choice(orgs["id"].to_numpy(), learners),
                          "created_at": created, "updated_at": created})
    skill_ids = np.array([f"s{i:02d}" for i in range(skills)], dtype=object)
    sk = pd.DataFrame({"id": skill_ids, "name": [f"Skill {i}" for i in range(skills)],
                       "updated_at": created})
    cid = np.array([f"c{i:03d}" for i in range(courses)], dtype=object)
    crs = pd.DataFrame({"id": cid, "name": cid, "expected_weeks": rng.integers(4, 16, courses),
                        "created_at": created, "updated_at": created})
    cs = pd.DataFrame({"course_id": np.repeat(cid, 3),
                       "skill_id": [skill_ids[(i * 7 + k * 3) % skills] for i in range(courses)
                                    for k in range(3)],
                       "target_level": rng.integers(40, 95, courses * 3).astype(float)})
    item_course = np.repeat(cid, items_per_course)
    n_items = len(item_course)
    item_id = np.array([f"i{i:05d}" for i in range(n_items)], dtype=object)
    course_skill = cs.groupby("course_id")["skill_id"].agg(list)
    items = pd.DataFrame({"id": item_id, "course_id": item_course, "title": item_id,
                          "content_type": TYPES[np.arange(n_items) % 5],
                          "skill_ids": [course_skill[c][: 1 + j % 3]
                                        for j, c in enumerate(item_course)],
                          "duration_minutes": 15.0, "updated_at": created})
    # enrollments: 2 distinct courses per learner
    first = rng.integers(0, courses, learners)
    second = (first + rng.integers(1, courses, learners)) % courses
    e_user = np.concatenate([uid, uid])
    e_course = cid[np.concatenate([first, second])]
    n_e = len(e_user)
    enrolled = T - pd.to_timedelta(rng.integers(5, 150, n_e), unit="D")
    fate = rng.random(n_e)
    completed = pd.Series(pd.NaT, index=range(n_e), dtype="datetime64[us, UTC]")
    withdrawn = completed.copy()
    done_at = T - pd.to_timedelta(rng.integers(0, 4, n_e), unit="D")
    completed[fate < 0.10] = done_at[fate < 0.10]
    withdrawn[(fate >= 0.10) & (fate < 0.15)] = done_at[(fate >= 0.10) & (fate < 0.15)]
    enr = pd.DataFrame({"id": [f"e{i}" for i in range(n_e)], "user_id": e_user,
                        "course_id": e_course, "enrolled_at": enrolled,
                        "target_completion_at": pd.Series(pd.NaT, index=range(n_e),
                                                          dtype="datetime64[us, UTC]"),
                        "completed_at": completed, "withdrawn_at": withdrawn,
                        "progress_percent": rng.uniform(0, 100, n_e).round(2),
                        "status": np.where(fate < 0.10, "completed",
                                           np.where(fate < 0.15, "withdrawn", "active")),
                        "updated_at": T})
    # user skills: 4 per learner
    us_user = np.repeat(uid, 4)
    us_skill = skill_ids[(np.repeat(rng.integers(0, skills, learners), 4)
                          + np.tile(np.arange(4) * 5, learners)) % skills]
    us = pd.DataFrame({"id": us_user + ":" + us_skill, "user_id": us_user, "skill_id": us_skill,
                       "mastery_level": rng.uniform(0, 100, len(us_user)).round(2),
                       "last_assessed_at": T - pd.to_timedelta(rng.integers(1, 200, len(us_user)),
                                                               unit="D"),
                       "updated_at": T})
    # events: on items of the learner's enrollments, 120 days back from T (+2 days after T)
    n_ev = learners * events_per_learner
    pick = rng.integers(0, n_e, n_ev)
    ev_course_idx = np.searchsorted(cid, e_course[pick])
    ev_item = ev_course_idx * items_per_course + rng.integers(0, items_per_course, n_ev)
    occurred = T - pd.to_timedelta(rng.uniform(-2, 120, n_ev) * 86400, unit="s").round("s")
    events = pd.DataFrame({
        "id": [f"ev{i}" for i in range(n_ev)], "user_id": e_user[pick], "course_id": e_course[pick],
        "content_id": item_id[ev_item], "content_type": TYPES[ev_item % 5],
        "event_type": np.array(["started", "progressed", "completed"], dtype=object)[
            rng.choice(3, n_ev, p=[0.3, 0.4, 0.3])],
        "occurred_at": occurred,
        "updated_at": occurred + pd.to_timedelta(rng.integers(60, 7200, n_ev), unit="s"),
        "duration_seconds": rng.uniform(30, 1800, n_ev).round(1),
        "progress_delta": rng.uniform(0, 3, n_ev).round(2)})
    n_r = learners * results_per_learner
    r_user_idx = rng.integers(0, learners, n_r)
    r_skill = us_skill[r_user_idx * 4 + rng.integers(0, 4, n_r)]
    if course_skill_results:
        r_course = np.searchsorted(cid, e_course[r_user_idx + learners * rng.integers(0, 2, n_r)])
        r_skill = cs["skill_id"].to_numpy()[r_course * 3 + rng.integers(0, 3, n_r)]
    submitted = T - pd.to_timedelta(rng.uniform(0, 120, n_r) * 86400, unit="s").round("s")
    results = pd.DataFrame({
        "id": [f"r{i}" for i in range(n_r)], "user_id": uid[r_user_idx], "course_id": None,
        "assessment_id": [f"a{i % 500}" for i in range(n_r)], "skill_id": r_skill,
        "score": rng.uniform(20, 100, n_r).round(2), "passing_score": 70.0,
        "submitted_at": submitted, "updated_at": submitted})
    counts = {}
    with engine.begin() as conn:
        for table, frame, arrays in [
                ("organizations", orgs, ()), ("users", users, ()), ("skills", sk, ()),
                ("courses", crs, ()), ("course_skills", cs, ()), ("enrollments", enr, ()),
                ("user_skills", us, ()), ("content_items", items, ("skill_ids",)),
                ("learning_events", events, ()), ("assessment_results", results, ())]:
            counts[table] = copy_frame(conn, table, frame, array_columns=arrays)
        import sqlalchemy as sa
        for table in counts:
            conn.execute(sa.text(f"analyze {table}"))
    return counts


def _reset_peak() -> None:
    """Reset this process's peak RSS (Linux: VmHWM; ru_maxrss survives exec from the parent)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_mb(field: str = "VmHWM") -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_one(url: str, name: str, T: str, chunk_learners: int) -> dict:
    """Run one category in this process; its numbers (peak RSS of this process in MB)."""
    from analytics_pipeline.warehouse.engine import make_engine
    from analytics_pipeline.analytics.store import run_snapshot

    _reset_peak()
    baseline = _rss_mb("VmRSS")
    cpu0 = time.process_time()
    report = run_snapshot(make_engine(url), name, pd.Timestamp(T),
                          chunk_learners=chunk_learners)
    cpu = time.process_time() - cpu0
    peak = _rss_mb("VmHWM")
    return {"category": name, "table": report.table, "rows": report.rows,
            "chunks": report.chunks, "seconds": round(report.elapsed, 2),
            "cpu_seconds": round(cpu, 2),
            "rows_per_second": round(report.rows_per_second, 1),
            "baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(peak, 1),
            "peak_above_baseline_mb": round(peak - baseline, 1),
            "phases": {k: round(v, 2) for k, v in report.seconds.items()},
            "quality_warnings": len(report.quality.warnings)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=25_000)
    parser.add_argument("--server-url", help="server to create a throw-away database on")
    parser.add_argument("--url", help="an existing migrated warehouse database instead")
    parser.add_argument("--no-generate", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away database")
    parser.add_argument("--T", default=T_DEFAULT)
    parser.add_argument("--events-per-learner", type=int, default=40)
    parser.add_argument("--results-per-learner", type=int, default=8)
    parser.add_argument("--courses", type=int, default=60)
    parser.add_argument("--skills", type=int, default=20)
    parser.add_argument("--items-per-course", type=int, default=12)
    parser.add_argument("--course-skill-results", action="store_true",
                        help="results on the skills of the learner's courses (bench-like evidence)")
    parser.add_argument("--chunk-learners", type=int, nargs="+", default=[20_000])
    parser.add_argument("--only", nargs="+", default=NAMES)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run_one:
        print(json.dumps(measure_one(args.url, args.run_one, args.T, args.chunk_learners[0])))
        return

    from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
    from analytics_pipeline.warehouse.migrate import migrate

    database = None
    url = args.url
    if url is None:
        if not args.server_url:
            parser.error("give --server-url (throw-away database) or --url")
        database = f"ap_measure_{uuid.uuid4().hex[:8]}"
        url = ensure_database(args.server_url, database)
        migrate(url)
    try:
        if not args.no_generate:
            t0 = time.perf_counter()
            counts = generate(make_engine(url), args.learners, pd.Timestamp(args.T),
                              events_per_learner=args.events_per_learner,
                              results_per_learner=args.results_per_learner,
                              courses=args.courses, skills=args.skills,
                              items_per_course=args.items_per_course,
                              course_skill_results=args.course_skill_results)
            print(json.dumps({"generated": counts,
                              "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
        results = []
        for chunk in args.chunk_learners:
            for name in args.only:
                out = subprocess.run(
                    [sys.executable, "-m", "analytics_pipeline.bench.analytics_steps", "--run-one",
                     name, "--url", url, "--T", args.T, "--chunk-learners", str(chunk)],
                    capture_output=True, text=True, env={**os.environ})
                if out.returncode != 0:
                    print(out.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{name} failed")
                line = json.loads(out.stdout.strip().splitlines()[-1])
                line["chunk_learners"] = chunk
                results.append(line)
                print(json.dumps(line), flush=True)
        table = pd.DataFrame(results)[["category", "chunk_learners", "chunks", "rows", "seconds",
                                       "cpu_seconds", "rows_per_second", "baseline_rss_mb", "peak_rss_mb",
                                       "peak_above_baseline_mb"]]
        print(table.to_markdown(index=False))
    finally:
        if database and not args.keep:
            make_engine.cache_clear()
            drop_database(args.server_url, database)


if __name__ == "__main__":
    main()
