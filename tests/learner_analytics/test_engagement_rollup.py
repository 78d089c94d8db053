"""Engagement from the daily activity rollup and its session parts (issue 18, migration 0018) on
real PostgreSQL: the rollup path publishes exactly the rows of the raw path, over two days with
late arrivals, sessions across midnight, events at exactly midnight and at the window's and the
retention's edges, deleted and moved events, a re-run of a past T; maintained parts equal a
rebuild.

The platform is test_daily_activity_rollup's (60 learners, 4000 events over 100 days) plus
bursts of events a few minutes apart (sessions; ties; gaps of exactly 30 and 31 minutes), many
starting just before midnight, some ingested days late, some after T.
"""
import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics.store import (
    READS, ROLLUP_READS, category_config, rollup_session_gap, run_snapshot, update_daily_activity)
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.warehouse.bulk import copy_frame
from tests.learner_analytics.raw import table_rows
from tests.learner_analytics.test_daily_activity_rollup import (
    DAY, T1, T2, _ingest, _load, _platform, _uses_rollup, _velocity_in_memory)

MIN = pd.Timedelta(minutes=1)
PART_COLUMNS = ["user_id", "day", "start_at", "last_at", "last_duration", "events"]
RAW = READS["engagement"]
ROLLUP = {**READS["engagement"], **ROLLUP_READS["engagement"]}


def _bursts(seed: int = 180, n_bursts: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, _events, _enrollments = _platform()
    start = T2 + DAY - pd.to_timedelta(rng.integers(0, 95 * 24 * 60, n_bursts), unit="min")
    late_evening = rng.random(n_bursts) < 0.4  # 23:20 - 23:59: the burst crosses midnight
    start = start.where(~late_evening, start.floor("D") - pd.to_timedelta(
        rng.integers(1, 40, n_bursts), unit="min"))
    size = rng.integers(2, 9, n_bursts)
    burst = np.repeat(np.arange(n_bursts), size)
    steps = np.array([0, 5, 17, 30, 31, 30, 12])[rng.integers(0, 7, len(burst))]  # minutes
    steps[np.r_[0, np.cumsum(size)[:-1]]] = 0
    offset = pd.Series(steps).groupby(burst).cumsum().to_numpy()
    occurred = start[burst] + pd.to_timedelta(offset, unit="min")
    n = len(burst)
    lag = pd.to_timedelta(np.where(rng.random(n) < 0.15, rng.integers(1, 4 * 24 * 60, n), 0), unit="min")
    duration = rng.integers(0, 900, n).astype(float)
    duration[rng.random(n) < 0.1] = np.nan
    types = np.array(["video", "reading", "quiz", "exercise", "project", None], dtype=object)
    return pd.DataFrame({
        "id": [f"b{i}" for i in range(n)], "user_id": np.array(users)[rng.integers(0, len(users), n_bursts)][burst],
        "course_id": "c1", "content_id": None, "content_type": types[rng.integers(0, 6, n)],
        "event_type": "progressed", "occurred_at": occurred, "updated_at": occurred + lag,
        "duration_seconds": duration, "progress_delta": None})


def _edges(engine) -> None:
    """Learner "edge" (only these events) at exactly the instants where bins and windows meet:
    the retention cutoff of T1 (the last activity before the 8 weeks), 1 us into the 8 weeks,
    T1 - 28 d (ends week 3 and W's complement), T1, and a session of gaps of exactly 30 min."""
    at = [T1 - 90 * DAY, T1 - 56 * DAY + pd.Timedelta(microseconds=1), T1 - 28 * DAY, T1,
          T1 - 10 * DAY - 30 * MIN, T1 - 10 * DAY, T1 - 10 * DAY + 30 * MIN]
    stamp = pd.Timestamp("2025-01-01", tz="UTC")
    with engine.begin() as conn:
        copy_frame(conn, "users", pd.DataFrame({"id": ["edge"], "email": ["edge@example.org"],
                                                "organization_id": "o1", "created_at": stamp,
                                                "updated_at": stamp}))
        copy_frame(conn, "enrollments", pd.DataFrame({
            "id": ["edge:c2"], "user_id": "edge", "course_id": "c2", "enrolled_at": T1 - 200 * DAY,
            "progress_percent": 0.0, "status": "active", "updated_at": stamp}))
    _ingest(engine, pd.DataFrame({"id": [f"edge{i}" for i in range(len(at))], "user_id": "edge",
                                  "course_id": "c2", "content_id": None, "content_type": "quiz",
                                  "event_type": "progressed", "occurred_at": at, "updated_at": at,
                                  "duration_seconds": 60.0, "progress_delta": None}))


def _setup(engine) -> pd.DataFrame:
    """The platform and bursts known at T1 loaded; returns the events that arrive later."""
    later = _load(engine, events_known_by=T1)
    bursts = _bursts()
    _ingest(engine, bursts[bursts["updated_at"] <= T1])
    _edges(engine)
    return pd.concat([later, bursts[bursts["updated_at"] > T1]])


def _engagement(engine, T, reads) -> pd.DataFrame:
    return _velocity_in_memory(engine, T, reads, name="engagement")


def _parts(engine) -> pd.DataFrame:
    return table_rows(engine, "learner_daily_sessions", PART_COLUMNS, "user_id, day, start_at")


def _published(engine, T) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text("select * from engagement_analytics where calculated_at = :t "
                                         "order by user_id"), conn, params={"t": T.to_pydatetime()}) \
            .drop(columns=["id"])


def _publish(engine, T, chunk_learners=20_000) -> pd.DataFrame:
    """Run the snapshot of T (the rollup's path when it is exact for T); the independent
    check (one SQL statement over the raw tables) finds no mismatch; returns the rows."""
    report = run_snapshot(engine, "engagement", T, chunk_learners=chunk_learners)
    assert report.rollup == _uses_rollup(engine, T, "engagement")
    if chunk_learners < 30:
        assert report.chunks > 1
    truth = independent_check.check(engine, "engagement", T)
    assert truth["mismatching_count"] == 0 and truth["compared"] == report.rows, truth
    return _published(engine, T)


def _assert_maintained_equals_rebuilt(engine, T) -> None:
    """The maintained parts equal a rebuild from scratch at T (which then stays: equal)."""
    maintained = _parts(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from learner_daily_activity_asof"))
    assert update_daily_activity(engine, T)["mode"] == "first_build"
    pd.testing.assert_frame_equal(maintained, _parts(engine))


def _assert_rollup_equals_raw(engine, T) -> pd.DataFrame:
    assert _uses_rollup(engine, T, "engagement")
    raw = _engagement(engine, T, RAW)
    pd.testing.assert_frame_equal(_engagement(engine, T, ROLLUP), raw)
    return raw


def test_engagement_from_the_rollup_equals_the_raw_events_over_two_days(clean_warehouse):
    engine = clean_warehouse
    later = _setup(engine)
    assert (later["occurred_at"] <= T1).sum() > 20  # late arrivals for days before T1

    first = update_daily_activity(engine, T1)
    assert first["mode"] == "first_build" and first["parts_written"] > 0
    parts = _parts(engine)
    assert (parts["events"] > 1).sum() > 100          # parts of several events
    assert parts["start_at"].dt.hour.eq(0).sum() > 20  # parts opening just after midnight
    raw = _assert_rollup_equals_raw(engine, T1)
    assert len(raw) > 30 and raw["trend"].nunique() > 1 and raw["avg_session_duration"].gt(20).any()
    edge = raw.set_index("user_id").loc["edge"]
    assert edge["last_active"] == T1 and edge["sessions_per_week"] == 2 / 4  # T1 - 10 d and T1
    assert edge["weekly_trend"][0] > 0  # the first week (from 1 us in) has its session
    published_t1 = _publish(engine, T1, chunk_learners=25)  # 3 chunks, from the rollup
    assert len(published_t1) == len(raw)

    # the next day: events ingested in (T1, T2] (some occurred days before T1, joining or
    # splitting sessions of stored parts), some after T2 (not known at T2)
    _ingest(engine, later[later["updated_at"] <= T2])
    again = update_daily_activity(engine, T2)
    assert again["mode"] == "incremental" and 0 < again["parts_written"] < first["parts_written"] / 4
    _ingest(engine, later[later["updated_at"] > T2])
    _assert_rollup_equals_raw(engine, T2)
    _assert_maintained_equals_rebuilt(engine, T2)
    assert len(_publish(engine, T2)) > 30

    # a re-run of T1 (the rollup is exact for T2 now: the raw events) publishes the same rows
    assert not _uses_rollup(engine, T1, "engagement")
    pd.testing.assert_frame_equal(_publish(engine, T1), published_t1)


def test_deleted_moved_and_backdated_events_reach_the_parts(clean_warehouse):
    engine = clean_warehouse
    _setup(engine)
    update_daily_activity(engine, T1)
    with engine.begin() as conn:
        gone = conn.execute(sa.text(  # events in the middle of bursts: sessions split
            "delete from learning_events where id in (select id from learning_events where id like 'b%' "
            "and occurred_at > :t - interval '30 days' order by id limit 40)"), {"t": T1.to_pydatetime()}).rowcount
        moved = conn.execute(sa.text(  # to another day, and across midnight
            "update learning_events set occurred_at = occurred_at - interval '26 hours', updated_at = :t "
            "where id in (select id from learning_events where id like 'b%' and occurred_at > :t - "
            "interval '20 days' order by id desc limit 40)"), {"t": T1.to_pydatetime()}).rowcount
    assert (gone, moved) == (40, 40)
    assert not _uses_rollup(engine, T1, "engagement")  # stale cells since: the raw events
    _ingest(engine, _bursts(seed=7, n_bursts=30).assign(  # inserted with an old ingestion time
        id=lambda f: "old" + f["id"], updated_at=T1 - DAY,
        occurred_at=lambda f: f["occurred_at"].where(f["occurred_at"] < T1 - DAY, T1 - 2 * DAY)))
    assert update_daily_activity(engine, T2)["mode"] == "incremental"
    _assert_rollup_equals_raw(engine, T2)
    _assert_maintained_equals_rebuilt(engine, T2)


def test_another_session_gap_reads_the_raw_events_and_an_unknown_gap_rebuilds(clean_warehouse):
    engine = clean_warehouse
    _setup(engine)
    update_daily_activity(engine, T1)
    with engine.connect() as conn:
        assert rollup_session_gap(conn) == pd.Timedelta(minutes=30)
    wider = category_config("engagement", overrides={"session_gap_minutes": 45})
    assert _uses_rollup(engine, T1, "engagement") and not _uses_rollup(engine, T1, "engagement", wider)
    assert _uses_rollup(engine, T1, "velocity", None)
    # a rollup built before migration 0018 has no parts and no gap: the next maintenance rebuilds
    maintained = _parts(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("update learner_daily_activity_asof set session_gap = null"))
        conn.execute(sa.text("delete from learner_daily_sessions"))
    assert not _uses_rollup(engine, T1, "engagement")
    assert update_daily_activity(engine, T1)["mode"] == "first_build"
    pd.testing.assert_frame_equal(_parts(engine), maintained)
    assert update_daily_activity(engine, T1)["mode"] == "unchanged"
