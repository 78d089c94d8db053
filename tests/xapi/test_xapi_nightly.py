"""The nightly from the contract and from a real Ralph LRS filled by the sandbox give the same analytics.

One small sandbox (30 learners: the smallest profile the sandbox accepts) publishes its activity
into Ralph as xAPI statements (``sandbox/xapi_publisher.py``; ``stored`` = the contract's
``updated_at``, written with ``ralph write``), plus statements that must be quarantined. Then
`analytics-pipeline run` (what `make run` calls) runs on fresh warehouses for the same day (the
runs at once): once from the contract alone, once with ``XAPI_LRS_URL`` set (rosters from the contract,
activity from the LRS). The six analytics snapshots and the points ledger are equal for every
learner; the bad statements are in the quarantine with their reasons and loaded nowhere. A third
run reads the LRS alone (``XAPI_ROSTERS=lrs``, no LMS): users, courses, content and enrollments
come from the statements and the whole nightly succeeds.
"""
import os
import shutil
import subprocess
import sys
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.sandbox import start_in_thread, xapi_publisher
from analytics_pipeline.sandbox.generator import Platform
from analytics_pipeline.sandbox.profiles import resolve_profile
from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
from analytics_pipeline.warehouse.urls import dagster_storage_url

pytestmark = pytest.mark.slow  # a whole nightly: run once in CI (not again in the PostgreSQL 15 pass)

TOKEN = "xapi-e2e-token"
PLATFORM = "https://lms.example.org"
ANALYTICS_TABLES = (
    "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics",
    "mastery_analytics", "performance_analytics", "content_effectiveness_analytics",
)
BAD_STATEMENTS = {
    "verb: unknown https://example.org/verbs/juggled": {"verb": {"id": "https://example.org/verbs/juggled"}},
    "actor: missing or without an identity": {"actor": None},
    "score: outside 0-100": {"verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
                             "result": {"score": {"scaled": 7.5}}},
    "timestamp: absurd": {"timestamp": "2999-01-01T00:00:00Z"},
    "unknown actor: no users.id=usr_ghost": {"actor": {"account": {"homePage": PLATFORM, "name": "usr_ghost"}}},
}


def _bad_statements(template: dict) -> list[dict]:
    out = []
    for reason, change in BAD_STATEMENTS.items():
        statement = {**template, **change, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, reason))}
        out.append({k: v for k, v in statement.items() if v is not None})
    return out


def _start(env: dict, partition: str, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "analytics_pipeline.cli", "run", "--partition", partition],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def two_runs(pg_server_url, ralph_server, tmp_path_factory):
    ralph = ralph_server
    ralph.reset()
    sandbox = start_in_thread(Platform(resolve_profile("XS", learners=30, organizations=3), seed=11), token=TOKEN)
    statements = xapi_publisher.statements(sandbox.url, TOKEN, PLATFORM)
    bad = _bad_statements(next(s for s in statements if "result" in s and "extensions" in s["result"]))
    ralph.append([*statements, *bad])
    partition = (pd.Timestamp(sandbox.platform.state()["now"]).normalize() - pd.Timedelta(days=1)).date().isoformat()
    suffix = os.urandom(4).hex()
    databases, runs = [], {}
    for name in ("contract", "lrs", "alone"):
        warehouse_db, dagster_db = f"ap_x_{name}_{suffix}", f"ap_x_{name}_dg_{suffix}"
        databases += [warehouse_db, dagster_db]
        warehouse = ensure_database(pg_server_url, warehouse_db)
        storage = dagster_storage_url(ensure_database(pg_server_url, dagster_db), dagster_db)
        home = tmp_path_factory.mktemp(f"dagster_home_{name}")
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "DATABASE_URL": warehouse, "DAGSTER_PG_URL": storage, "DAGSTER_HOME": str(home),
               "LMS_API_URL": sandbox.url, "LMS_API_TOKEN": TOKEN, "DAGSTER_EXECUTOR": "in_process"}
        for variable in [v for v in env if v.startswith("XAPI_")]:
            env.pop(variable)
        if name != "contract":
            env |= {"XAPI_LRS_URL": ralph.url, "XAPI_LRS_USERNAME": ralph.username,
                    "XAPI_LRS_PASSWORD": ralph.password, "XAPI_PLATFORM_URL": PLATFORM}
        if name == "alone":  # no LMS at all: `make run` must not start the sandbox either
            env |= {"XAPI_ROSTERS": "lrs"}
            env.pop("LMS_API_URL")
        log = open(home / "run.log", "w+")
        runs[name] = {"process": _start(env, partition, log), "log": log, "engine": make_engine(warehouse)}
    for run in runs.values():  # the three runs at once: their waits overlap
        run["returncode"] = run["process"].wait(timeout=1800)
        run["log"].seek(0)
        run["output"] = run["log"].read()
        run["log"].close()
    yield {"runs": runs, "statements": statements, "bad": bad}
    sandbox.stop()
    for run in runs.values():
        run["engine"].dispose()
    make_engine.cache_clear()
    for database in databases:
        drop_database(pg_server_url, database)


def _frame(engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql), conn)


def _snapshot(engine, table: str) -> pd.DataFrame:
    frame = _frame(engine, f"select * from {table}").drop(columns=["id"])
    for column in frame.columns:  # jsonb/arrays as text: comparable and sortable
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_both_runs_succeed(two_runs):
    for name, run in two_runs["runs"].items():
        assert run["returncode"] == 0, f"{name}: " + run["output"][-6000:]


def test_the_lrs_run_read_the_activity_from_the_lrs(two_runs):
    lrs = two_runs["runs"]["lrs"]["engine"]
    watermark = _frame(lrs, "select resource, rows_loaded from extraction_watermarks")
    assert "xapi-statements" in set(watermark["resource"])
    assert "learning-events" not in set(watermark["resource"])  # the contract's activity was not read
    ids = _frame(lrs, "select id from learning_events")["id"]
    assert ids.str.fullmatch(r"[0-9a-f-]{36}").all()  # statement ids, not the contract's


def test_bad_statements_are_quarantined_with_reasons_and_loaded_nowhere(two_runs):
    lrs = two_runs["runs"]["lrs"]["engine"]
    quarantined = _frame(lrs, "select source_id, reason from quarantine where resource = 'xapi-statements'")
    bad_ids = {s["id"] for s in two_runs["bad"]}
    assert set(quarantined["source_id"]) == bad_ids
    for expected in BAD_STATEMENTS:
        assert quarantined["reason"].str.startswith(expected).any(), expected
    loaded = _frame(lrs, "select id from learning_events union all select id from assessment_results")["id"]
    assert not bad_ids & set(loaded)


def test_voids_removed_the_deleted_events_and_results(two_runs):
    contract, lrs = (two_runs["runs"][n]["engine"] for n in ("contract", "lrs"))
    voids = [s for s in two_runs["statements"] if s["verb"]["id"].endswith("/voided")]
    assert voids  # the sandbox deleted some events and results
    voided = {s["object"]["id"] for s in voids}
    assert not voided & set(_frame(lrs, "select id from learning_events")["id"])
    for table in ("learning_events", "assessment_results"):
        counts = [int(_frame(e, f"select count(*) as n from {table}")["n"][0]) for e in (contract, lrs)]
        assert counts[0] == counts[1] > 0, table


@pytest.mark.parametrize("table", ANALYTICS_TABLES)
def test_the_six_analytics_are_equal_for_every_learner(two_runs, table):
    contract, lrs = (two_runs["runs"][n]["engine"] for n in ("contract", "lrs"))
    expected, actual = _snapshot(contract, table), _snapshot(lrs, table)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_the_ledger_is_equal_for_every_learner(two_runs):
    contract, lrs = (two_runs["runs"][n]["engine"] for n in ("contract", "lrs"))
    sql = ("select user_id, activity_type, points, \"timestamp\" from point_transactions "
           "order by user_id, activity_type, \"timestamp\", points")
    expected, actual = _frame(contract, sql), _frame(lrs, sql)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(actual, expected)
    totals = "select user_id, total_points, current_level, current_streak, longest_streak from user_points order by user_id"
    pd.testing.assert_frame_equal(_frame(lrs, totals), _frame(contract, totals))


def test_the_lrs_alone_runs_the_whole_nightly(two_runs):
    alone, contract = (two_runs["runs"][n]["engine"] for n in ("alone", "contract"))
    counts = {t: int(_frame(alone, f"select count(*) as n from {t}")["n"][0])
              for t in ("users", "courses", "content_items", "enrollments", "organizations", "user_preferences")}
    actors = {s["actor"]["account"]["name"] for s in two_runs["statements"] if not s["verb"]["id"].endswith("/voided")}
    assert counts["users"] == len(actors) + 1  # + the statement of an actor the contract does not know
    assert counts["courses"] > 0 and counts["content_items"] > 0 and counts["enrollments"] > 0
    assert counts["organizations"] == counts["user_preferences"] == 0  # nothing in xAPI fills them
    for table in ANALYTICS_TABLES[:1] + ANALYTICS_TABLES[2:3]:  # velocity and engagement: from activity alone
        assert int(_frame(alone, f"select count(*) as n from {table}")["n"][0]) > 0, table
    same = "select user_id, activity_type, points, \"timestamp\" from point_transactions where activity_type <> 'course_completed'"
    assert len(_frame(alone, same)) > 0.9 * len(_frame(contract, same))
