"""The learner daily activity rollup (issue 18) on real PostgreSQL: velocity read from the rollup
publishes exactly what it publishes from the raw events, and the incremental maintenance equals a
rebuild from scratch.

The platform below is random but seeded: 60 learners in 3 courses, events over 100 days with
cent progress deltas (some NULL, some without course), some at exactly UTC midnight, some
ingested days after they occurred (late-arriving), some ingested after T (not known at T).
"""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.analytics import INPUTS, AnalyticsInputs, compute
from analytics_pipeline.analytics.store import (
    CATALOGS, QUERIES, READS, ROLLUP_READS, _read, category_config, reads_for, run_snapshot,
    update_daily_activity)
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.warehouse.bulk import copy_frame, read_frame, sql_text
from tests.learner_analytics.raw import load_people, table_rows

T1 = pd.Timestamp("2025-04-20", tz="UTC")
T2 = T1 + pd.Timedelta(days=1)
DAY = pd.Timedelta(days=1)
ROLLUP_COLUMNS = ["user_id", "course_id", "content_type", "day", "events", "duration_seconds",
                  "progress_delta", "progress_events", "first_at", "last_at"]


def _platform(seed: int = 18):
    rng = np.random.default_rng(seed)
    users = [f"r{i:03d}" for i in range(60)]
    courses = ["c1", "c2", "c3"]
    n = 4000
    occurred = T2 + DAY - pd.to_timedelta(rng.integers(0, 100 * 24 * 60, n), unit="min")
    midnight = rng.random(n) < 0.08                     # at exactly 00:00 (ends the day before)
    occurred = occurred.where(~midnight, occurred.floor("D"))
    lag = pd.to_timedelta(np.where(rng.random(n) < 0.15, rng.integers(1, 5 * 24 * 60, n), 0),
                          unit="min")                   # late-arriving: ingested days after
    delta = np.round(rng.integers(-100, 400, n) / 100, 2).astype(object)
    delta[rng.random(n) < 0.1] = None
    course = np.array(courses, dtype=object)[rng.integers(0, 3, n)]
    course[rng.random(n) < 0.03] = None
    events = pd.DataFrame({
        "id": [f"x{i}" for i in range(n)],
        "user_id": np.array(users)[rng.integers(0, len(users), n)],
        "course_id": course,
        "content_id": None,
        "content_type": np.array(["video", "reading", "quiz", "exercise", "project"])[rng.integers(0, 5, n)],
        "event_type": "progressed",
        "occurred_at": occurred,
        "updated_at": occurred + lag,
        "duration_seconds": rng.integers(30, 3600, n).astype(float),
        "progress_delta": delta,
    })
    enrollments = pd.DataFrame([
        {"id": f"{u}:{c}", "user_id": u, "course_id": c,
         "enrolled_at": T1 - pd.Timedelta(days=int(rng.integers(10, 120))),
         "target_completion_at": (T1 + pd.Timedelta(days=int(rng.integers(-5, 200))))
         if rng.random() < 0.5 else pd.NaT,
         "completed_at": pd.NaT, "withdrawn_at": pd.NaT,
         "progress_percent": float(rng.integers(0, 30)), "status": "active", "updated_at": T1}
        for u in users for c in courses if rng.random() < 0.6])
    for c in ("target_completion_at", "completed_at", "withdrawn_at"):
        enrollments[c] = pd.to_datetime(enrollments[c], utc=True)
    return users, events, enrollments


def _load(engine, events_known_by: pd.Timestamp | None = None):
    """Catalogs, learners, enrollments and the events ingested up to ``events_known_by``
    (all when None); returns the events not loaded yet."""
    users, events, enrollments = _platform()
    stamp = pd.Timestamp("2025-01-01", tz="UTC")
    with engine.begin() as conn:
        load_people(conn, users, {"c1": 10, "c2": 8, "c3": None}, stamp)
        copy_frame(conn, "enrollments", enrollments)
    now = events if events_known_by is None else events[events["updated_at"] <= events_known_by]
    _ingest(engine, now)
    return events.drop(now.index)


def _ingest(engine, events: pd.DataFrame) -> None:
    """Events arrive; their enrollments' progress_percent (the value now) grows by their deltas,
    as on the platform (velocity rewinds it by the deltas of the events not known at T)."""
    gained = events.assign(d=pd.to_numeric(events["progress_delta"]).fillna(0.0)) \
        .groupby(["user_id", "course_id"])["d"].sum().round(2).reset_index()
    with engine.begin() as conn:
        copy_frame(conn, "learning_events", events)
        for r in gained.itertuples():
            conn.execute(sa.text("update enrollments set progress_percent = progress_percent + :d "
                                 "where user_id = :u and course_id = :c"),
                         {"d": float(r.d), "u": r.user_id, "c": r.course_id})


def _velocity_in_memory(engine, T, reads, name="velocity", cfg=None) -> pd.DataFrame:
    """The category's rows of T computed by the pure function from the given reads (one chunk)
    with ``cfg`` (default: the category's)."""
    cfg = cfg if cfg is not None else category_config(name)
    with engine.connect() as conn:
        catalogs = {k: read_frame(conn, sql_text(f"{QUERIES}/{sql}")) for k, sql in CATALOGS.items()
                    if k in INPUTS[name]}
        frames = {**catalogs, **_read(conn, reads, T, cfg, 1, 0)}
    return compute(name, AnalyticsInputs(**frames), T, cfg).sort_values("user_id") \
        .reset_index(drop=True)


def _published(engine, T) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text("select * from learner_velocity_analytics where calculated_at = :t "
                                         "order by user_id"), conn, params={"t": T.to_pydatetime()}) \
            .drop(columns=["id"])


def _rollup(engine) -> pd.DataFrame:
    return table_rows(engine, "learner_daily_activity", ROLLUP_COLUMNS, "user_id, day, course_id, content_type")


def _rebuilt(engine, T) -> pd.DataFrame:
    """The rollup rebuilt from scratch at T (the maintained one is put back afterwards)."""
    kept = _rollup(engine)
    with engine.begin() as conn:
        asof = conn.execute(sa.text("select asof from learner_daily_activity_asof")).scalar_one()
        conn.execute(sa.text("delete from learner_daily_activity_asof"))
    assert update_daily_activity(engine, T)["mode"] == "first_build"
    rebuilt = _rollup(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from learner_daily_activity"))
        copy_frame(conn, "learner_daily_activity", kept)
        conn.execute(sa.text("update learner_daily_activity_asof set asof = :a"), {"a": asof})
    return rebuilt


def _uses_rollup(engine, T, name="velocity", cfg=None) -> bool:
    with engine.connect() as conn:
        return reads_for(conn, name, T, cfg or category_config(name)) != READS[name]


def test_velocity_from_the_rollup_equals_the_raw_events_over_two_days(clean_warehouse):
    engine = clean_warehouse
    later = _load(engine, events_known_by=T1)
    assert len(later) > 50  # late-arriving rows (occurred before T1) and rows after T1 come later
    assert (later["occurred_at"] <= T1).any()

    first = update_daily_activity(engine, T1)
    assert first["mode"] == "first_build" and first["cells_written"] > 0
    assert _uses_rollup(engine, T1)
    # the pure function gives the same rows from the rollup's rows as from the raw events
    via_rollup = _velocity_in_memory(engine, T1, {**READS["velocity"], **ROLLUP_READS["velocity"]})
    via_raw = _velocity_in_memory(engine, T1, READS["velocity"])
    assert len(via_raw) > 30 and via_raw["status"].nunique() > 1
    pd.testing.assert_frame_equal(via_rollup, via_raw)
    run_snapshot(engine, "velocity", T1)                 # published through the rollup
    published_t1 = _published(engine, T1)
    assert len(published_t1) == len(via_raw)
    truth = independent_check.check(engine, "velocity", T1)
    assert truth["mismatching_count"] == 0 and truth["compared"] == len(via_raw), truth

    # the next day: events ingested in (T1, T2] (some occurred long before T1), some after T2
    _ingest(engine, later[later["updated_at"] <= T2])
    again = update_daily_activity(engine, T2)
    assert again["mode"] == "incremental"
    assert 0 < again["cells_recomputed"] < first["cells_written"] / 4  # the touched cells only
    assert update_daily_activity(engine, T2)["mode"] == "unchanged"    # a re-run changes nothing
    _ingest(engine, later[later["updated_at"] > T2])    # ingested after T2: not known at T2
    pd.testing.assert_frame_equal(_rollup(engine), _rebuilt(engine, T2))
    assert _uses_rollup(engine, T2) and not _uses_rollup(engine, T1)
    via_rollup = _velocity_in_memory(engine, T2, {**READS["velocity"], **ROLLUP_READS["velocity"]})
    pd.testing.assert_frame_equal(via_rollup, _velocity_in_memory(engine, T2, READS["velocity"]))
    run_snapshot(engine, "velocity", T2)
    truth = independent_check.check(engine, "velocity", T2)
    assert truth["mismatching_count"] == 0 and truth["compared"] > 30, truth

    # a re-run of T1 (the rollup is exact for T2 now: raw events) publishes the same rows
    run_snapshot(engine, "velocity", T1)
    pd.testing.assert_frame_equal(_published(engine, T1), published_t1)
    assert update_daily_activity(engine, T1)["mode"] == "unchanged"  # a backfill leaves it at T2


def test_midnight_events_belong_to_the_day_they_end(clean_warehouse):
    engine = clean_warehouse
    _load(engine, events_known_by=pd.Timestamp("2000-01-01", tz="UTC"))  # no random events
    _users, _events, enrollments = _platform()
    learner = enrollments.loc[enrollments["course_id"] == "c1", "user_id"].iloc[0]
    rows = pd.DataFrame({
        "id": ["m1", "m2", "m3", "m4"], "user_id": learner, "course_id": "c1", "content_id": None,
        "content_type": "video", "event_type": "progressed",
        # at T1 - 28 d exactly (outside the window), at T1 - 14 d exactly (previous half), at
        # T1 exactly (inside), 1 us after T1 - 28 d (inside)
        "occurred_at": [T1 - 28 * DAY, T1 - 14 * DAY, T1, T1 - 28 * DAY + pd.Timedelta(microseconds=1)],
        "duration_seconds": 60.0, "progress_delta": [1.11, 2.22, 4.44, 8.88]})
    rows["updated_at"] = rows["occurred_at"]
    _ingest(engine, rows)
    update_daily_activity(engine, T1)
    cells = _rollup(engine).set_index("day")["progress_delta"].astype(float)
    assert cells.to_dict() == {(T1 - 29 * DAY).date(): 1.11, (T1 - 15 * DAY).date(): 2.22,
                               (T1 - DAY).date(): 4.44, (T1 - 28 * DAY).date(): 8.88}
    via_rollup = _velocity_in_memory(engine, T1, {**READS["velocity"], **ROLLUP_READS["velocity"]})
    pd.testing.assert_frame_equal(via_rollup, _velocity_in_memory(engine, T1, READS["velocity"]))
    r = via_rollup.set_index("user_id").loc[learner]
    assert r["trend_percentage"] == pytest.approx((4.44 - (2.22 + 8.88)) / (2.22 + 8.88) * 100, abs=0.01)


def test_updates_deletions_and_old_ingestion_times_mark_their_cells(clean_warehouse):
    """Changes the ingestion time does not show (a void deleting an event, an upsert moving
    an event to another day, a row inserted with an updated_at before the as-of) reach the
    rollup through the triggers: the next maintenance equals a rebuild, velocity equals raw."""
    engine = clean_warehouse
    _load(engine, events_known_by=T1)
    update_daily_activity(engine, T1)
    with engine.begin() as conn:
        gone = conn.execute(sa.text("delete from learning_events where id in "
                                    "(select id from learning_events where progress_delta is not null "
                                    "and occurred_at > :t - interval '20 days' order by id limit 5)"),
                            {"t": T1.to_pydatetime()}).rowcount
        moved = conn.execute(sa.text("update learning_events set occurred_at = occurred_at - interval '3 days', "
                                     "progress_delta = 9.99, updated_at = :t where id in (select id from "
                                     "learning_events where occurred_at > :t - interval '10 days' order by id limit 5)"),
                             {"t": T1.to_pydatetime()}).rowcount
        dirty = conn.execute(sa.text("select count(*) from learning_events_rollup_dirty")).scalar_one()
    assert (gone, moved) == (5, 5) and dirty >= 5
    assert not _uses_rollup(engine, T1)  # stale cells since the maintenance of T1: raw events
    backdated = pd.DataFrame({"id": ["old1"], "user_id": "r001", "course_id": "c2", "content_id": None,
                              "content_type": "quiz", "event_type": "progressed",
                              "occurred_at": [T1 - 2 * DAY], "updated_at": [T1 - DAY],
                              "duration_seconds": 10.0, "progress_delta": 3.33})
    _ingest(engine, backdated)
    assert update_daily_activity(engine, T2)["mode"] == "incremental"
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from learning_events_rollup_dirty")).scalar_one() == 0
    pd.testing.assert_frame_equal(_rollup(engine), _rebuilt(engine, T2))
    via_rollup = _velocity_in_memory(engine, T2, {**READS["velocity"], **ROLLUP_READS["velocity"]})
    pd.testing.assert_frame_equal(via_rollup, _velocity_in_memory(engine, T2, READS["velocity"]))


def test_retention_and_odd_instants(clean_warehouse):
    engine = clean_warehouse
    _load(engine)
    far = T1 + pd.Timedelta(days=60)  # cells ending at or before far - 90 d are removed
    update_daily_activity(engine, T1)
    assert _rollup(engine)["day"].min() < (far - pd.Timedelta(days=90)).date()
    update_daily_activity(engine, far)
    assert _rollup(engine)["day"].min() >= (far - pd.Timedelta(days=90)).date()
    odd = far + pd.Timedelta(hours=5)
    update_daily_activity(engine, odd)
    assert not _uses_rollup(engine, odd)  # not UTC midnight: the raw events


def test_velocity_reads_the_rollup_per_bin_of_days_no_window_boundary_cuts(clean_warehouse):
    """Issue 18: velocity's rollup rows are summed per bin of gcd(window_days, trend_half_days,
    inactive_days_at_risk) days counted back from T (14 by default) instead of per day: the raw
    events' values for other windows too, and bins one day wider (cut by a boundary) are caught."""
    engine = clean_warehouse
    _load(engine)
    update_daily_activity(engine, T1)
    rollup = {**READS["velocity"], **ROLLUP_READS["velocity"]}
    for overrides, width in [({}, 14), ({"window_days": 21, "trend_half_days": 7, "inactive_days_at_risk": 7}, 7),
                             ({"trend_half_days": 10}, 2)]:
        cfg = category_config("velocity", overrides=overrides)
        assert rollup["learning_events"].bin_days(cfg) == width and _uses_rollup(engine, T1, cfg=cfg)
        raw = _velocity_in_memory(engine, T1, READS["velocity"], cfg=cfg)
        assert len(raw) > 30 and raw["status"].nunique() > 1
        pd.testing.assert_frame_equal(_velocity_in_memory(engine, T1, rollup, cfg=cfg), raw)
        wider = {**rollup, "learning_events": dataclasses.replace(rollup["learning_events"],
                                                                  bin_days=lambda c, w=width: w + 1)}
        assert not _velocity_in_memory(engine, T1, wider, cfg=cfg).equals(raw), overrides
