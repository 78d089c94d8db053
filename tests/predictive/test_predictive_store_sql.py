"""Issue 18: the predictive store's SQL. A query may include a part another one shares (a line
``\\ir <file>.sql``, psql's include: events.sql and events_rollup.sql read the forecast's window
with forecast_window_events.sql, written once); every query of the folder resolves. The learner
set's transaction runs without JIT (at L's plan costs the compilation took longer than the
statements gained), for that transaction only. Rows through the included text:
test_predictive_incremental.test_forecast_through_the_store_equals_the_raw_events (events.sql) and
test_predictive_rollup_scoring.test_forecast_carry_over_from_the_rollup_equals_the_raw_events
(events_rollup.sql)."""
import pandas as pd
import sqlalchemy as sa

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
