"""Issue 18: the predictive store's SQL. A query may include a part another one shares (a line
``\\ir <file>.sql``, psql's include: events.sql and events_rollup.sql read the forecast's window
with forecast_window_events.sql, written once); every query of the folder resolves. The learner
set's transaction runs without JIT (at L's plan costs the compilation took longer than the
statements gained), for that transaction only. Rows through the included text:
test_predictive_incremental.test_forecast_through_the_store_equals_the_raw_events (events.sql) and
test_predictive_rollup_scoring.test_forecast_carry_over_from_the_rollup_equals_the_raw_events
(events_rollup.sql)."""
import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics.store import update_daily_activity
from analytics_pipeline.predictive import ForecastConfig, store
from analytics_pipeline.settings import SQL_DIR
from tests.predictive.predictive_db import history, load

FOLDER = SQL_DIR / "queries" / "predictive"


def test_every_predictive_query_resolves_its_includes():
    window = (FOLDER / "forecast_window_events.sql").read_text().rstrip("\n") + "\nUNION ALL\n"
    for path in FOLDER.glob("*.sql"):
        text = store.predictive_sql(path.stem)
        assert "\\ir " not in text, path.name
    for name in ("events", "events_rollup"):
        raw = (FOLDER / f"{name}.sql").read_text()
        assert "\\ir forecast_window_events.sql\n" in raw and "FROM learning_events\nWHERE occurred_at > :since" not in raw
        text = store.predictive_sql(name)
        assert text.count(window) == 1  # the window's rows, then the carry-over row
        assert text == raw.replace("\\ir forecast_window_events.sql\n", window[:-len("UNION ALL\n")])


def test_the_learner_sets_transaction_runs_without_jit(clean_warehouse):
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=30, days=60, seed=3, start=pd.Timestamp("2025-01-01", tz="UTC"))
    load(engine, events, enrollments, results, T)
    with engine.connect() as conn:
        default = conn.execute(sa.text("show jit")).scalar_one()
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "insert into pg_temp.predictive_learners" in statement.lower():
            seen.append(cursor.connection.execute("show jit").fetchone()[0])
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        run = store.forecast_run(engine, T, ForecastConfig())
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(run.frame) > 10
    assert seen and set(seen) == {"off"}  # the learner set's statements
    with store.learner_set(engine) as learners:
        assert learners.conn.execute(sa.text("show jit")).scalar_one() == "off"
    with engine.connect() as conn:  # local to its transaction
        assert conn.execute(sa.text("show jit")).scalar_one() == default


def test_the_cells_and_the_forecast_window_run_with_their_own_settings_only(clean_warehouse):
    """Drop-off's day cells with CELLS_SETTINGS (their GROUP BYs in memory) and the forecast's
    window with WINDOW_SETTINGS (a sequential scan): only those statements; the learner set's
    next statements run with the transaction's values again (docs/scaling.md, branch pred4)."""
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=30, days=130, seed=5, start=pd.Timestamp("2025-01-01", tz="UTC"))
    T = T.normalize()
    load(engine, events, enrollments, results, T)
    update_daily_activity(engine, T)
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        """Each temp table's work_mem and each COPY read's enable_indexscan, as the server has
        them when the statement runs (asked on the statement's own connection)."""
        text = statement.lower()
        name = next((n for n in ("predictive_cells", "predictive_due_firsts", "predictive_results")
                     if f"create temp table {n}" in text), None)
        if name:
            seen.append((name, cursor.connection.execute("show work_mem").fetchone()[0]))
        elif text.startswith("select * from (") and text.endswith(") q limit 0"):  # bulk.read_copy
            name = ("events_rollup" if "from learner_daily_activity" in text else
                    "events" if "from learning_events" in text else "enrollments" if "from enrollments" in text else text)
            seen.append((name, cursor.connection.execute("show enable_indexscan").fetchone()[0]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with store.learner_set(engine) as learners:
            default = {s: learners.conn.execute(sa.text(f"show {s}")).scalar_one() for s in ("work_mem", "enable_indexscan")}
            floor = store.rollup_floor(learners.conn, T)
            assert floor is not None and learners.active(T) > 10
            store.rollup_cells(learners.conn, T, floor, 28)
            chunk = learners.chunk(1, 0)
            since = T - pd.Timedelta(weeks=ForecastConfig().weeks)
            assert len(store.forecast_events(learners.conn, chunk, T, since, floor)) > 100
            assert len(store.forecast_events(learners.conn, chunk, T, since, None)) > 100
            store.query(learners.conn, "enrollments", since=T, t=T, **chunk)
            after = {s: learners.conn.execute(sa.text(f"show {s}")).scalar_one() for s in default}
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert default == {"work_mem": "4MB", "enable_indexscan": "on"} and after == default
    assert seen == [("predictive_cells", store.CELLS_SETTINGS["work_mem"]), ("predictive_due_firsts", "4MB"),
                    ("predictive_results", "4MB"), ("events_rollup", "off"), ("events", "off"), ("enrollments", "on")]


def test_the_forecast_window_comes_in_time_order_then_the_carry_over_rows(clean_warehouse):
    """The weekly float sums add a group's events in row order: forecast_events returns the window's
    events by occurred_at (ties in the order read) and the carry-over rows after them, whatever the
    plan; here a learner's events inserted newest first (a sequential scan returns them so)."""
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=20, days=100, seed=6, start=pd.Timestamp("2025-01-01", tz="UTC"))
    T = T.normalize()
    load(engine, events, enrollments, results, T)
    with engine.begin() as conn:
        u, course = conn.execute(sa.text(
            "select user_id, course_id from enrollments where enrolled_at <= :t and completed_at is null "
            "and withdrawn_at is null order by user_id limit 1"), {"t": T.to_pydatetime()}).one()
        for k in range(30):  # newest first; k = 6 and 7 at the same instant
            at = T - pd.Timedelta(hours=5 * (6 if k == 7 else k))
            conn.execute(sa.text(
                "insert into learning_events (id, user_id, course_id, event_type, occurred_at, duration_seconds, "
                "progress_delta, updated_at) values (:id, :u, :c, 'progressed', :o, 4242, :d, :o)"),
                {"id": f"ord-{k}", "u": u, "c": course, "o": at.to_pydatetime(), "d": 0.01 * k})
    since = T - pd.Timedelta(weeks=ForecastConfig().weeks)
    with store.learner_set(engine) as learners:
        learners.active(T)
        frame = store.forecast_events(learners.conn, learners.chunk(1, 0), T, since, None)
    window = (frame["occurred_at"] > since).to_numpy()
    assert window.sum() > 100 and (~window).sum() > 5
    assert not window[np.argmax(~window):].any()  # the carry-over rows last
    assert frame.loc[window, "occurred_at"].is_monotonic_increasing
    mine = frame.loc[frame["duration_seconds"] == 4242, "progress_delta"].round(2).tolist()
    expected = [round(0.01 * k, 2) for k in range(29, -1, -1)]
    assert mine == expected[:-8] + [0.06, 0.07] + expected[-6:]  # the tie by its deltas


def test_window_order_is_one_order_whatever_the_order_read():
    at = pd.to_datetime(["2025-03-02", "2025-01-01", "2025-03-01", "2025-03-02", "2025-03-01", "2025-03-01"], utc=True)
    events = pd.DataFrame({"occurred_at": at, "duration_seconds": [1.0, 0.0, 9.0, 1.0, 2.0, 1.0],
                           "progress_delta": [4.0, 2.0, 3.0, 1.0, 3.0, np.nan]})
    since = pd.Timestamp("2025-02-01", tz="UTC")
    ordered = store.window_order(events, since)
    # 03-01: two deltas of 3 (by duration), then no delta; 03-02: deltas 1 and 4; the carry-over row (01-01) last
    pd.testing.assert_frame_equal(ordered, events.iloc[[4, 2, 5, 3, 0, 1]].reset_index(drop=True))
    for seed in range(5):
        shuffled = events.sample(frac=1, random_state=seed).reset_index(drop=True)
        pd.testing.assert_frame_equal(store.window_order(shuffled, since), ordered)
    assert store.window_order(events.iloc[:0], since).empty
