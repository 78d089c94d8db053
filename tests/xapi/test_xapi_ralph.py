"""The xAPI source against a real Ralph LRS: the LRS alone (rosters from the statements), incremental
runs on ``stored``, voids across runs, wrong credentials."""
import hashlib
import uuid

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.sandbox import start_in_thread, xapi_publisher
from analytics_pipeline.sandbox.generator import Platform
from analytics_pipeline.sandbox.profiles import resolve_profile
from analytics_pipeline.sources.errors import AuthenticationError
from analytics_pipeline.sources.store.tables import format_watermark
from analytics_pipeline.resources import XapiLrsResource
from analytics_pipeline.sources.xapi_client import XapiClient
from analytics_pipeline.sources.store.xapi import extract_statements, tables_from_lrs
from analytics_pipeline.assets.xapi import build_xapi_asset

TOKEN = "xapi-test-token"
PLATFORM = "https://lms.example.org"
ADL = "http://adlnet.gov/expapi/verbs/"


@pytest.fixture(scope="module")
def published():
    """The statements of a 30-learner sandbox (no ``stored``: the LRS sets it on POST)."""
    sandbox = start_in_thread(Platform(resolve_profile("XS", learners=30, organizations=3), seed=5), token=TOKEN)
    statements = xapi_publisher.statements(sandbox.url, TOKEN, PLATFORM)
    sandbox.stop()
    return statements


def _statement(verb: str, actor: dict, object_id: str, timestamp: str, **extra) -> dict:
    return {"id": str(uuid.uuid4()), "actor": actor, "verb": {"id": verb},
            "object": {"objectType": "Activity", "id": object_id,
                       "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}},
            "context": {"contextActivities": {"parent": [
                {"id": f"{PLATFORM}/courses/c-mail", "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}]}},
            "timestamp": timestamp, **extra}


def _count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def _resource(ralph, **overrides) -> XapiLrsResource:
    settings = dict(base_url=ralph.url, username=ralph.username, password=ralph.password, platform_url=PLATFORM,
                    rosters="lrs", max_retry_seconds=5.0, backoff_base_seconds=0.01, backoff_max_seconds=0.05)
    return XapiLrsResource(**{**settings, **overrides})


def _extract(engine, ralph, **kw):
    with XapiClient(ralph.url, ralph.username, ralph.password) as client:
        return extract_statements(engine, client, rosters="lrs", platform_url=PLATFORM, **kw)


def test_the_lrs_alone_fills_users_courses_content_enrollments_and_activity(ralph, published, clean_warehouse,
                                                                             dagster_instance, warehouse_url):
    mail = "mailto:ada@example.com"
    by_mail = [
        _statement(ADL + "initialized", {"mbox": mail, "name": "Ada"}, f"{PLATFORM}/content/c-mail-1",
                   "2026-03-01T10:00:00Z"),
        _statement(ADL + "completed", {"mbox_sha1sum": hashlib.sha1(mail.encode()).hexdigest()},
                   f"{PLATFORM}/content/c-mail-1", "2026-03-01T10:20:00Z"),
    ]
    ralph.post([*published, *by_mail])
    tables = tables_from_lrs(ralph.url, "lrs")
    asset = build_xapi_asset(tables, "lrs")
    result = dg.materialize([asset], instance=dagster_instance, resources={
        "xapi_lrs": _resource(ralph), "warehouse": WarehouseResource(database_url=warehouse_url)})
    assert result.success
    engine = clean_warehouse
    events = [s for s in published if s["verb"]["id"] in (ADL + "initialized", ADL + "progressed", ADL + "completed")]
    results = [s for s in published if s["verb"]["id"] in (ADL + "passed", ADL + "failed")]
    voided = {s["object"]["id"] for s in published if s["verb"]["id"] == ADL + "voided"}
    assert voided
    assert _count(engine, "select count(*) from learning_events") == len(
        [s for s in events if s["id"] not in voided]) + len(by_mail)
    assert _count(engine, "select count(*) from assessment_results") == len([s for s in results if s["id"] not in voided])
    actors = {s["actor"]["account"]["name"] for s in [*events, *results]}
    assert _count(engine, "select count(*) from users") == len(actors) + 1  # + Ada, once for mbox and mbox_sha1sum
    assert _count(engine, "select count(*) from user_roles where role = 'learner'") == len(actors) + 1
    assert _count(engine, "select count(*) from users where email like '%example.com%' or id like '%ada%'") == 0
    content = {s["object"]["id"].rsplit("/", 1)[-1] for s in events}
    assert _count(engine, "select count(*) from content_items") == len(content) + 1
    assert _count(engine, "select count(*) from courses") >= 2
    assert _count(engine, "select count(*) from enrollments") > 0
    assert _count(engine, "select count(*) from enrollments where status = 'completed' and progress_percent < 100 "
                          "and completed_at is null") == 0
    assert _count(engine, "select count(*) from quarantine") == 0
    watermark = _count(engine, "select watermark from extraction_watermarks where resource = 'xapi-statements'")
    assert pd.Timestamp(watermark) > pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=30)  # Ralph's `stored`: now
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    # the first load gave the written tables planner statistics (they had none)
    materializations = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    refreshed = {m.asset_key.path[-1]: m.metadata["statistics_refreshed"].value
                 for m in materializations if "statistics_refreshed" in m.metadata}
    assert refreshed["learning_events"] and refreshed["assessment_results"] and refreshed["users"], refreshed


def test_incremental_runs_read_only_newer_statements_and_voids_apply_later(ralph, published, clean_warehouse):
    engine = clean_warehouse
    ralph.post(published[:600])
    first = _extract(engine, ralph)
    assert first.rows_received == 600 and first.quarantined == 0
    events_before = _count(engine, "select count(*) from learning_events")
    watermark = first.watermark_after
    later = watermark + pd.Timedelta(seconds=30)
    victim = _count(engine, "select id from learning_events order by occurred_at limit 1")
    actor = {"account": {"homePage": PLATFORM, "name": "usr_new"}}
    new = [_statement(ADL + "completed", actor, f"{PLATFORM}/content/c-new-{i}", format_watermark(later)) for i in range(3)]
    void = {"id": str(uuid.uuid4()), "actor": actor, "verb": {"id": ADL + "voided"},
            "object": {"objectType": "StatementRef", "id": victim}, "timestamp": format_watermark(later)}
    ralph.append([*new, void], stored=format_watermark(watermark + pd.Timedelta(seconds=60)))

    second = _extract(engine, ralph)
    assert second.rows_received == 4  # the LRS answered `since` with the new statements only
    assert second.voided == 1
    assert _count(engine, "select count(*) from learning_events") == events_before + 3 - 1
    assert _count(engine, "select count(*) from learning_events where id = :v", v=victim) == 0
    assert second.watermark_after == watermark + pd.Timedelta(seconds=60)

    third = _extract(engine, ralph, since_overlap_seconds=3600)  # an overlap re-reads, loads nothing twice
    assert third.rows_received == 0 and third.statements_before_watermark >= 4
    assert _count(engine, "select count(*) from learning_events") == events_before + 2
    assert _count(engine, "select rows_loaded from extraction_watermarks where resource = 'xapi-statements'") == 604


def test_wrong_credentials_fail_at_once_with_a_clear_error(ralph, published, clean_warehouse):
    ralph.post(published[:50])
    with XapiClient(ralph.url, ralph.username, "not-the-password") as client:
        with pytest.raises(AuthenticationError, match="XAPI_LRS_PASSWORD.*not retried") as caught:
            extract_statements(clean_warehouse, client, rosters="lrs", platform_url=PLATFORM)
        assert client.attempts == 1  # no retry storm
    assert "not-the-password" not in str(caught.value)
    assert _count(clean_warehouse, "select count(*) from extraction_watermarks") == 0
    assert _count(clean_warehouse, "select count(*) from learning_events") == 0


def test_the_quarantine_share_check_fails_when_too_many_statements_are_bad(ralph, published, clean_warehouse,
                                                                            dagster_instance, warehouse_url):
    good = published[:20]
    bad = [{**s, "id": str(uuid.uuid4()), "verb": {"id": "https://example.org/verbs/unknown"}} for s in published[:5]]
    ralph.post([*good, *bad])
    result = dg.materialize([build_xapi_asset(tables_from_lrs(ralph.url, "lrs"), "lrs")], instance=dagster_instance,
                            resources={"xapi_lrs": _resource(ralph),
                                       "warehouse": WarehouseResource(database_url=warehouse_url)})
    assert result.success  # the good statements are committed; the check tells the operator
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["quarantined"].value == 5
    assert _count(clean_warehouse, "select count(*) from quarantine where reason like 'verb: unknown%'") == 5
    loaded = _count(clean_warehouse, "select count(*) from learning_events") + _count(
        clean_warehouse, "select count(*) from assessment_results")
    assert loaded == len([s for s in good if not s["verb"]["id"].endswith("/voided")])
