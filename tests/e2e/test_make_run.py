"""`analytics-pipeline run` (what `make run` calls) end to end: the real sandbox LMS over HTTP,
a fresh warehouse, Dagster's Postgres storage, the nightly job on the multiprocess executor.
Run twice: the second run must succeed and change no snapshot (idempotent)."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.sandbox import start_in_thread
from tests.e2e.cli_run import cli_pipeline

TOKEN = "e2e-token"
ANALYTICS_TABLES = (
    "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics",
    "mastery_analytics", "performance_analytics", "content_effectiveness_analytics",
)


@pytest.fixture(scope="module")
def pipeline_run(pg_server_url, tmp_path_factory):
    sandbox = start_in_thread("XS", seed=7, token=TOKEN, port=0)
    with cli_pipeline(pg_server_url, tmp_path_factory.mktemp("dagster_home"), sandbox.url, TOKEN,
                      "multiprocess", "ap_e2e") as pipeline:
        first = pipeline.run(timeout=1200)
        yield {"first": first, "run": lambda: pipeline.run(timeout=1200), "engine": pipeline.engine, "sandbox": sandbox}
    sandbox.stop()


def _scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def _snapshot_instant(engine) -> pd.Timestamp:
    return pd.Timestamp(_scalar(engine, "select max(calculated_at) from learner_velocity_analytics"))


ACTIVE_AT_T = """
    select count(distinct e.user_id) from enrollments e join users u on u.id = e.user_id
    where e.enrolled_at <= :t and (e.completed_at is null or e.completed_at > :t)
      and (e.withdrawn_at is null or e.withdrawn_at > :t)
"""


def test_the_run_succeeds_and_prints_what_it_wrote(pipeline_run):
    first = pipeline_run["first"]
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert "Rows in the warehouse:" in first.stdout and "succeeded" in first.stdout


def test_sources_are_loaded_from_the_sandbox(pipeline_run):
    engine, counts = pipeline_run["engine"], pipeline_run["sandbox"].platform.state()["counts"]
    assert _scalar(engine, "select count(*) from organizations") == counts["organizations"]
    events = _scalar(engine, "select count(*) from learning_events")
    assert events > 0.9 * counts["learning-events"]  # erased learners' events are gone
    watermarks = _scalar(engine, "select count(*) from extraction_watermarks where watermark is not null")
    assert watermarks >= 10


def test_every_active_learner_has_each_analytics_snapshot(pipeline_run):
    engine = pipeline_run["engine"]
    instant = _snapshot_instant(engine)
    active = _scalar(engine, ACTIVE_AT_T, t=instant.to_pydatetime())
    assert active > 50
    for table in ANALYTICS_TABLES:
        rows, learners, bad_expiry = pd.read_sql_query(sa.text(
            f"select count(*), count(distinct user_id), count(*) filter (where expires_at <= calculated_at) "
            f"from {table} where calculated_at = :t"), engine.connect(), params={"t": instant.to_pydatetime()}).iloc[0]
        assert rows == learners >= active, table
        assert bad_expiry == 0, table
        current = _scalar(engine, f"select count(*) - count(distinct user_id) from {table}_current")
        assert current == 0, f"{table}_current has more than one row per learner"


def test_gamification_aggregates_and_predictive_are_filled(pipeline_run):
    engine = pipeline_run["engine"]
    for table in ("point_transactions", "user_points", "daily_activity", "user_achievements",
                  "predictive_analytics_cache"):
        assert _scalar(engine, f"select count(*) from {table}") > 0, table
    for board, period in (("leaderboard_weekly", "week"), ("leaderboard_monthly", "month")):
        expected = _scalar(engine, f"""
            select count(distinct t.user_id) from point_transactions t join users u on u.id = t.user_id
            left join user_preferences p on p.user_id = t.user_id
            where t."timestamp" >= date_trunc('{period}', now() at time zone 'UTC') at time zone 'UTC'
              and coalesce(p.leaderboard_privacy, 'public') <> 'hidden'""")
        assert _scalar(engine, f"select count(*) from {board}") == expected, board
    hidden_on_board = _scalar(engine, """
        select count(*) from leaderboard_monthly l join user_preferences p on p.user_id = l.user_id
        where p.leaderboard_privacy <> 'public'""")
    assert hidden_on_board == 0
    assert _scalar(engine, "select coalesce(min(sample_size), 10) from peer_comparison_aggregates") >= 10
    kinds = _scalar(engine, "select count(distinct analytics_type) from predictive_analytics_cache")
    assert kinds == 3


def test_a_second_run_succeeds_and_duplicates_nothing(pipeline_run):
    engine = pipeline_run["engine"]
    tables = (*ANALYTICS_TABLES, "point_transactions", "user_points", "predictive_analytics_cache", "learning_events")
    before = {t: _scalar(engine, f"select count(*) from {t}") for t in tables}
    second = pipeline_run["run"]()
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    after = {t: _scalar(engine, f"select count(*) from {t}") for t in tables}
    assert after == before
