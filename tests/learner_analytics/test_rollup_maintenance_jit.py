"""Issue 18: the rollup's incremental maintenance runs without JIT (its plan is index probes per
touched cell; at L's plan costs JIT compiled for longer than the statement ran), in its own
transaction only: the setting does not outlive it, and the maintained rollup still equals a
rebuild (test_daily_activity_rollup)."""
import sqlalchemy as sa

from analytics_pipeline.analytics.store import JIT_OFF, update_daily_activity
from tests.learner_analytics.test_daily_activity_rollup import T1, T2, _ingest, _load


def test_incremental_maintenance_runs_without_jit(clean_warehouse):
    engine = clean_warehouse
    later = _load(engine, events_known_by=T1)
    with engine.connect() as conn:
        default = conn.execute(sa.text("show jit")).scalar_one()  # the server's (on unless configured)
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "learner_daily_activity" in statement and "insert" in statement.lower():
            seen.append(("maintenance", cursor.connection.execute("show jit").fetchone()[0]))
        elif statement.strip().lower() == JIT_OFF:
            seen.append(("jit off", None))
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert update_daily_activity(engine, T1)["mode"] == "first_build"
        _ingest(engine, later[later["updated_at"] <= T2])
        assert update_daily_activity(engine, T2)["mode"] == "incremental"
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert seen[0] == ("maintenance", default)                        # a first build keeps JIT
    assert seen[-2:] == [("jit off", None), ("maintenance", "off")]   # the next day: off
    with engine.connect() as conn:                                    # local to its transaction
        assert conn.execute(sa.text("show jit")).scalar_one() == default
