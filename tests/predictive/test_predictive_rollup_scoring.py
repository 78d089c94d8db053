"""Issue 18: drop-off's scoring pass reads the daily activity rollup's day cells instead of every
event of every active learner when the rollup is exact for T (store.rollup_floor): the rows are
the same as from the raw events (every column), also with events at exactly midnight, before the
rollup's oldest day, on due items, dated after T or not yet known at T; a re-run of a past day,
a cell marked stale or a T that is not a midnight read the raw events. The forecast's carry-over
row (the events before its window) from the rollup gives the same rows too."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.analytics.store import update_daily_activity
from analytics_pipeline.predictive import DropOffConfig, ForecastConfig, RecommendationConfig, store
from analytics_pipeline.predictive.course_features import cell_events
from analytics_pipeline.predictive.drop_off import scoring_raw
from tests.predictive.course_synth import make_course_history
from tests.predictive.predictive_db import history, load, load_courses

START = pd.Timestamp("2025-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def run(engine, T, raw: bool):
    return store.drop_off_run(engine, T, DropOffConfig(), 365, 10_000, 40, rollup=not raw)


def features_both_ways(engine, T):
    """The raw (cohort-free) features of every active enrollment at T from the raw events and
    from the day cells (one chunk)."""
    with store.learner_set(engine) as learners:
        courses, content = store.catalog(learners.conn, "courses"), store.catalog(learners.conn, "content_items")
        since = T - 365 * DAY
        floor = store.drop_off_floor(learners.conn, T, since, 28)
        assert floor is not None
        learners.active(T)
        store.rollup_cells(learners.conn, T, floor, 28)
        chunk = learners.chunk(1, 0)
        raw = scoring_raw(*store.chunk_frames(learners, chunk, T, since), courses, content, T)
        cells = scoring_raw(*store.rollup_chunk_frames(learners, chunk, T, since, floor), courses, content, T)
    return raw, cells


def edge_events(engine, T):
    """Events of active learners on the edges of the day cells."""
    with engine.connect() as conn:
        users = conn.execute(sa.text(
            "select user_id, course_id from enrollments where course_id like '%-now' and withdrawn_at is null "
            "order by user_id limit 4")).all()
    (u0, c0), (u1, c1), (u2, c2), (u3, c3) = users
    rows = [  # id, user, course, content, occurred_at, updated_at
        ("m1", u0, c0, None, T - 3 * DAY, T - 3 * DAY),  # exactly midnight: ends the bin of the day before
        ("m2", u0, c0, None, T - 3 * DAY - pd.Timedelta(hours=5), T - 3 * DAY),
        ("m3", u1, c1, f"{c1}-a0", T - 20 * DAY, T - 2 * DAY),  # a due item's submission at midnight
        ("m4", u1, c1, None, T - 28 * DAY, T - 2 * DAY),  # the recent window's bound
        ("o1", u2, c2, f"{c2}-a1", T - 95 * DAY, T - 95 * DAY),  # before the rollup's oldest day
        ("o2", u2, c2, None, T - 90 * DAY, T - 90 * DAY),  # exactly at the floor
        ("f1", u3, c3, None, T + DAY, T - DAY),  # dated after T, known at T
        ("f2", u3, c3, f"{c3}-a1", T - 4 * DAY, T + DAY),  # not known at T
        ("n1", u3, None, None, T - 4 * DAY, T - 4 * DAY),  # no course
    ]
    with engine.begin() as conn:
        for id_, u, c, item, at, upd in rows:
            conn.execute(sa.text(
                "insert into learning_events (id, user_id, course_id, content_id, event_type, occurred_at, "
                "duration_seconds, progress_delta, updated_at) values (:id, :u, :c, :x, 'completed', :o, 60, 1, :upd)"),
                {"id": f"edge-{id_}", "u": u, "c": c, "x": item, "o": at.to_pydatetime(), "upd": upd.to_pydatetime()})


def test_drop_off_from_day_cells_equals_the_raw_events(clean_warehouse):
    engine = clean_warehouse
    events, enrollments, results, courses, content, T = make_course_history(n_courses=3, learners=50, seed=4,
                                                                            T=START + 400 * DAY)
    load_courses(engine, events, enrollments, results, courses, content, T)
    edge_events(engine, T)
    run(engine, T, True)  # trains and stores the model: both runs below reuse it
    assert update_daily_activity(engine, T)["mode"] == "first_build"

    (raw_rows, raw_features), (cell_rows, cell_features) = features_both_ways(engine, T)
    pd.testing.assert_frame_equal(cell_rows, raw_rows)
    pd.testing.assert_frame_equal(cell_features, raw_features)  # every feature, the edge learners' too
    assert raw_features["n_events"].sum() > 1000 and raw_features["deadlines_passed"].sum() > 0

    cells = run(engine, T, False)
    raw = run(engine, T, True)
    assert cells.counters["events_from_rollup"] and not raw.counters["events_from_rollup"]
    assert cells.reused and raw.reused and len(raw.frame) > 100
    pd.testing.assert_frame_equal(cells.frame, raw.frame)

    # the next day: the rollup maintained to T + 1 d, a new event of an active learner
    day1 = T + DAY
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into learning_events (id, user_id, course_id, content_id, event_type, occurred_at, "
            "duration_seconds, progress_delta, updated_at) select 'next', user_id, course_id, course_id || '-a2', "
            "'completed', :o, 60, 1, :o from enrollments where course_id like '%-now' order by user_id limit 1"),
            {"o": (T + pd.Timedelta(hours=7)).to_pydatetime()})
    assert update_daily_activity(engine, day1)["mode"] == "incremental"
    cells, raw = run(engine, day1, False), run(engine, day1, True)
    assert cells.counters["events_from_rollup"]
    pd.testing.assert_frame_equal(cells.frame, raw.frame)

    # a re-run of the past day (the rollup is exact for T + 1 d): the raw events, that day's values
    again = run(engine, T, False)
    assert not again.counters["events_from_rollup"]
    pd.testing.assert_frame_equal(again.frame, run(engine, T, True).frame)


@pytest.mark.parametrize("why", ["dirty", "not_midnight", "no_rollup"])
def test_drop_off_reads_the_raw_events_when_the_rollup_is_not_exact(clean_warehouse, why):
    engine = clean_warehouse
    events, enrollments, results, courses, content, T = make_course_history(n_courses=2, learners=20, seed=1,
                                                                            T=START + 400 * DAY)
    load_courses(engine, events, enrollments, results, courses, content, T)
    if why != "no_rollup":
        update_daily_activity(engine, T)
    at = T
    with engine.begin() as conn:
        if why == "dirty":  # an event inserted with an old updated_at after the maintenance
            conn.execute(sa.text(
                "insert into learning_events (id, user_id, course_id, event_type, occurred_at, updated_at) "
                "select 'late', user_id, course_id, 'progressed', :o, :o from enrollments limit 1"),
                {"o": (T - 2 * DAY).to_pydatetime()})
        if why == "not_midnight":
            at = T + pd.Timedelta(hours=6)
        assert (store.drop_off_floor(conn, at, at - 365 * DAY, 28) is None)
    with engine.begin() as conn:
        if why != "no_rollup":  # and it holds when nothing of that is the case
            conn.execute(sa.text("delete from learning_events_rollup_dirty"))
            # a cell before its oldest day marked stale (retention deleting the events before the
            # cutoff): read raw anyway, the rollup still serves
            conn.execute(sa.text("insert into learning_events_rollup_dirty values ('x', :d)"),
                         {"d": (T - 91 * DAY).date()})
            assert store.drop_off_floor(conn, T, T - 365 * DAY, 28) == pd.Timestamp((T - 90 * DAY).date(), tz="UTC")
            assert store.drop_off_floor(conn, T, T - 80 * DAY, 28) is None  # history not before the rollup's days
            assert store.drop_off_floor(conn, T, T - 365 * DAY, 27.5) is None  # a recent window of part of a day


def test_cell_events_carry_the_dates_of_their_events():
    cells = pd.DataFrame({
        "user_id": ["u", "u", "v"], "course_id": ["c", "c", "c"],
        "first_at": pd.to_datetime(["2025-01-01 05:00", "2025-01-03 00:00", "2025-01-02 13:00"], utc=True),
        "last_at": pd.to_datetime(["2025-01-02 00:00", "2025-01-03 00:00", "2025-01-02 20:00"], utc=True),
        "n": [3, 2, 4]})
    rows = cell_events(cells)
    assert rows["n"].tolist() == [3, 2, 4, 0]  # the first cell's first event is on another date
    assert rows["occurred_at"].dt.strftime("%m-%d").tolist() == ["01-02", "01-03", "01-02", "01-01"]


def test_forecast_carry_over_from_the_rollup_equals_the_raw_events(clean_warehouse):
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=60, days=130, seed=7, start=START)
    T = T.normalize()
    load(engine, events, enrollments, results, T)
    with engine.connect() as conn:
        u, course = conn.execute(sa.text(
            "select user_id, course_id from enrollments where withdrawn_at is null order by user_id limit 1")).one()
    edge = [(T - 56 * DAY, 1.25), (T - 56 * DAY - pd.Timedelta(microseconds=1), 2.5), (T - 90 * DAY, 0.75),
            (T - 100 * DAY, None), (T - 60 * DAY, None), (T - 70 * DAY, 3.33)]
    with engine.begin() as conn:  # on the window's and the rollup's bounds, without a delta
        for k, (at, delta) in enumerate(edge):
            conn.execute(sa.text(
                "insert into learning_events (id, user_id, course_id, event_type, occurred_at, duration_seconds, "
                "progress_delta, updated_at) values (:id, :u, :c, 'progressed', :o, 60, :d, :o)"),
                {"id": f"fc-{k}", "u": u, "c": course if k != 4 else None, "o": at.to_pydatetime(), "d": delta})
    update_daily_activity(engine, T)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from learning_events where occurred_at <= :f"),
                            {"f": (T - 90 * DAY).to_pydatetime()}).scalar_one() > 100  # read raw below the rollup

    cells = store.forecast_run(engine, T, ForecastConfig())
    raw = store.forecast_run(engine, T, ForecastConfig(), rollup=False)
    assert cells.counters["events_from_rollup"] and not raw.counters["events_from_rollup"]
    assert len(raw.frame) > 30 and u in set(raw.frame["user_id"])
    pd.testing.assert_frame_equal(cells.frame, raw.frame)
    assert not store.forecast_run(engine, T - DAY, ForecastConfig()).counters["events_from_rollup"]  # a past day


def test_recommendations_do_not_depend_on_the_chunk_size(clean_warehouse):
    """The stale learners are recommended in chunks of RECOMMEND_CHUNK_LEARNERS (20,000: one scan
    of the events per chunk): any chunking gives the same rows."""
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=80, days=60, seed=9, start=START)
    load(engine, events, enrollments, results, T)
    assert store.RECOMMEND_CHUNK_LEARNERS == store.DEFAULT_CHUNK_LEARNERS
    frames = []
    for size in (7, 20_000):
        frames.append(store.recommendations_run(engine, T, RecommendationConfig(), chunk_learners=size).frame
                      .sort_values("user_id").reset_index(drop=True))
    assert len(frames[0]) > 40
    pd.testing.assert_frame_equal(frames[0], frames[1])
