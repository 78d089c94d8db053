"""`analytics-pipeline run` (what `make run` calls) end to end: the real sandbox LMS over HTTP,
a fresh warehouse, Dagster's Postgres storage. The first run is the small platform's (XS: the
in-process executor, a display of at most 60 lines); the second, with --verbose, must succeed and
change no snapshot (idempotent); the last one breaks a table and checks that the summary names the
failed asset, its error and the event log."""
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.sandbox import start_in_thread
from analytics_pipeline.settings import PROJECT_ROOT
from tests.e2e.cli_run import cli_pipeline

pytestmark = pytest.mark.slow  # a whole nightly: run once in CI (not again in the PostgreSQL 15 pass)

TOKEN = "e2e-token"
ANALYTICS_TABLES = (
    "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics",
    "mastery_analytics", "performance_analytics", "content_effectiveness_analytics",
)


@pytest.fixture(scope="module")
def pipeline_run(pg_server_url, tmp_path_factory):
    sandbox = start_in_thread("XS", seed=7, token=TOKEN, port=0)
    home = tmp_path_factory.mktemp("dagster_home")
    with cli_pipeline(pg_server_url, home, sandbox.url, TOKEN, None, "ap_e2e") as pipeline:
        pipeline.env.pop("PIPELINE_VERBOSE", None)
        pipeline.env["RUN_LOGS_DIR"] = str(home / "logs")
        first = pipeline.run(timeout=1200)
        run = lambda *args, **extra_env: pipeline.run(*args, timeout=1200, **extra_env)  # noqa: E731
        yield {"first": first, "run": run, "engine": pipeline.engine, "sandbox": sandbox}
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


def _log_path(output: str):
    """The event log file the summary names."""
    found = re.findall(r"(\S+/run-[0-9a-f-]+\.log)", _line_with(output, "Full event log:"))
    assert len(found) == 1, output[-3000:]
    path = PROJECT_ROOT / found[0]
    assert path.is_file(), path
    return path


def _line_with(output: str, *words: str) -> str:
    lines = [line for line in output.splitlines() if all(word in line for word in words)]
    assert lines, f"no line with {words} in:\n{output[-4000:]}"
    return lines[0]


def test_the_small_run_is_in_process_and_short(pipeline_run):
    first = pipeline_run["first"]
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    output = first.stdout + first.stderr
    # `make run` adds one line to these (the sandbox it starts): the budget is 60 in all
    assert len(output.splitlines()) <= 60 - 1, output
    assert "in_process" in _line_with(output, "nightly", "executor")
    assert "Traceback" not in output and "DEBUG" not in output


def test_the_display_has_a_line_per_asset_and_a_summary(pipeline_run):
    first, engine = pipeline_run["first"], pipeline_run["engine"]
    output = first.stdout
    shown = int(re.search(r"(\d+) rows", _line_with(output, "sources", "learning_events")).group(1))
    source = pipeline_run["sandbox"].platform.state()["counts"]["learning-events"]
    assert _scalar(engine, "select count(*) from learning_events") <= shown <= source  # deletions come later
    assert "checks 1/1" in _line_with(output, "sources", "organizations")
    assert re.search(r"checks (\d+)/\1$", _line_with(output, "learner_analytics", "mastery_analytics"))  # all passed
    for migration in ("0001_schema", "0009_contract_1_1"):
        assert len([line for line in output.splitlines() if migration in line]) == 1
    run_id = re.search(r"Run ([0-9a-f-]{36}) \(nightly", output).group(1)
    summary = _line_with(output, run_id, "succeeded")
    assert "0 failed" in summary
    assert f"users {_scalar(engine, 'select count(*) from users'):,}" in _line_with(output, "Rows:")
    report = _line_with(output, "Analyst report:").split(": ", 1)[1]
    assert (PROJECT_ROOT / report).is_file()
    assert f"/runs/{run_id}" in _line_with(output, "In the UI:")
    log = _log_path(output).read_text()
    assert run_id in _log_path(output).name and "STEP_SUCCESS" in log and "/v1/learning-events pages" in log


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
    second = pipeline_run["run"]("--verbose")
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    after = {t: _scalar(engine, f"select count(*) from {t}") for t in tables}
    assert after == before
    output = second.stdout + second.stderr
    assert "STEP_SUCCESS" in output and len(output.splitlines()) > 200  # --verbose: Dagster's own stream
    assert "0 failed" in _line_with(output, "(nightly", "succeeded")


def test_a_failing_asset_is_named_with_its_error_and_the_log(pipeline_run):
    """The warehouse loses a table (renamed away) and every quarantine check is made to fail: the
    run fails, and its summary names the asset, its error's first line, its code and the log."""
    engine = pipeline_run["engine"]
    with engine.begin() as conn:
        conn.execute(sa.text("alter table organizations rename to organizations_away"))
    try:
        failed = pipeline_run["run"](QUARANTINE_MAX_SHARE="-1")
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("alter table organizations_away rename to organizations"))
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output[-4000:]
    assert "Traceback" not in output
    step_line = _line_with(output, "failed step", "organizations")
    assert "does not exist" in step_line  # the error's first line
    code_line = output.splitlines()[output.splitlines().index(step_line) + 1]
    assert "analytics_pipeline/assets/sources.py:" in code_line
    check_line = _line_with(output, "failed check", "quarantine_share")
    assert "QUARANTINE_MAX_SHARE" in check_line  # the check's description
    assert "failed" in _line_with(output, "(nightly")
    log = _log_path(output).read_text()
    assert "STEP_FAILURE" in log and "Stack Trace" in log and "organizations" in log
