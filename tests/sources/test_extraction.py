"""Extraction assets end to end: sandbox -> Dagster -> PostgreSQL."""
from __future__ import annotations

import math

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.assets.sources import SOURCE_ASSETS, deletions
from analytics_pipeline.sandbox import start_in_thread
from analytics_pipeline.sources.store.tables import format_watermark
from analytics_pipeline.sources.specs import SOURCES
from tests.sources.conftest import TOKEN, api_resource, materialize

TABLES = [spec.table for spec in SOURCES] + ["user_roles", "course_skills"]
ASSETS_BY_NAME = {a.key.path[-1]: a for a in [*SOURCE_ASSETS, deletions]}
# A cheaper slice of the graph for the fault runs (every parent/child path, no events).
CORE = [ASSETS_BY_NAME[n] for n in ("organizations", "skills", "users", "courses", "enrollments", "user_preferences")]
CORE_TABLES = ["organizations", "users", "user_roles", "courses", "course_skills", "enrollments", "user_preferences"]


def snapshot(engine, tables=TABLES) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        return {t: pd.read_sql_query(sa.text(f"select * from {t} order by 1, 2"), conn) for t in tables}


def assert_same_tables(left, right):
    for table in left:
        pd.testing.assert_frame_equal(left[table], right[table], obj=table)


def watermarks(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("select resource, watermark from extraction_watermarks")).all())


def metadata(result, name) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == name]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


@pytest.fixture(scope="module")
def clean_core(sandbox, warehouse_url, dagster_instance):
    """The core tables extracted once without faults (the reference of the fault runs)."""
    from tests.conftest import truncate_all
    from analytics_pipeline.warehouse.engine import make_engine

    engine = make_engine(warehouse_url)
    truncate_all(engine)
    materialize(sandbox, warehouse_url, dagster_instance, CORE, page_size=100)
    return snapshot(engine, CORE_TABLES)


def index_definitions(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return conn.execute(sa.text("select indexname, indexdef from pg_indexes where tablename = any(:t) order by 1"),
                            {"t": TABLES}).all()


def test_full_then_incremental_equals_a_full_extraction_of_the_later_state(fresh_sandbox, clean_warehouse, warehouse_url, dagster_instance):
    indexes = index_definitions(clean_warehouse)
    first = materialize(fresh_sandbox, warehouse_url, dagster_instance)
    assert metadata(first, "learning_events")["rows_inserted"] > 10_000
    assert index_definitions(clean_warehouse) == indexes  # a first load builds its deferred indexes again
    before = watermarks(clean_warehouse)
    fresh_sandbox.advance(1)
    second = materialize(fresh_sandbox, warehouse_url, dagster_instance)
    events = metadata(second, "learning_events")
    assert 0 < events["rows_received"] < metadata(first, "learning_events")["rows_received"] / 10
    assert events["watermark_before"] < events["watermark_after"]
    assert watermarks(clean_warehouse)["learning-events"] > before["learning-events"]
    incremental = snapshot(clean_warehouse)

    from tests.conftest import truncate_all
    truncate_all(clean_warehouse)
    materialize(fresh_sandbox, warehouse_url, dagster_instance, full_refresh=True)
    assert_same_tables(incremental, snapshot(clean_warehouse))


def test_metadata_says_what_happened(sandbox, clean_warehouse, warehouse_url, dagster_instance):
    result = materialize(sandbox, warehouse_url, dagster_instance, CORE[:3], page_size=100)
    users = metadata(result, "users")
    assert users["rows_received"] == users["rows_inserted"] == users["dagster/row_count"] > 0
    assert users["row_count_exact"] is True
    assert users["pages"] >= 2 and users["rows_per_second"] > 0 and users["watermark_before"] == "none"
    assert "| id " in users["preview"] and "sources-test-token" not in str(users)
    assert all(check.passed for check in result.get_asset_check_evaluations())
    again = metadata(materialize(sandbox, warehouse_url, dagster_instance, CORE[:3]), "users")
    assert again["rows_received"] == 0 and again["watermark_before"] == again["watermark_after"]
    # the first load gave the planner statistics of the table and its child table; an empty one changes none
    assert users["tables_analyzed"] == "users, user_roles" and again["tables_analyzed"] == "none"
    refresh = metadata(materialize(sandbox, warehouse_url, dagster_instance, CORE[:3], full_refresh=True), "users")
    # read again as they are: not rewritten (no new row versions), counted as unchanged
    assert refresh["rows_received"] == refresh["rows_unchanged"] == users["rows_inserted"]
    assert refresh["rows_updated"] == 0 and refresh["dagster/row_count"] == users["dagster/row_count"]


# Each fault kind alone is proven at the client level (test_client.py); here they are combined per run.
@pytest.mark.parametrize("faults", [
    {"latency_ms": 20, "extra_fields": True},
    {"error_rate": 0.15, "truncated_body_rate": 0.15, "malformed_json_rate": 0.15, "drop_connection_rate": 0.15},
    {"rate_limit_burst": 2, "retry_after": 1},
], ids=lambda f: ",".join(f))
def test_a_run_with_transient_faults_loads_exactly_the_clean_rows(faulty_sandbox, clean_core, clean_warehouse, warehouse_url, dagster_instance, faults):
    faulty_sandbox.set_faults(seed=3, **faults)
    result = materialize(faulty_sandbox, warehouse_url, dagster_instance, CORE, page_size=100)
    assert result.success
    assert_same_tables(clean_core, snapshot(clean_warehouse, CORE_TABLES))


@pytest.mark.parametrize("faults, cause", [
    ({"error_rate": 1.0}, r"/v1/organizations: server error HTTP 503"),
    ({"loop_cursor": True}, r"/v1/organizations: .*cursor already followed"),
])
def test_a_failing_run_names_endpoint_and_cause_and_leaves_nothing_behind(faulty_sandbox, clean_warehouse, warehouse_url, dagster_instance, faults, cause):
    faulty_sandbox.set_faults(**faults)
    with pytest.raises(Exception, match=cause):
        materialize(faulty_sandbox, warehouse_url, dagster_instance, CORE[:1], page_size=2, max_retry_seconds=0.5)
    assert watermarks(clean_warehouse) == {}
    assert snapshot(clean_warehouse, ["organizations", "quarantine"])["organizations"].empty


def test_a_failure_after_some_pages_rolls_the_whole_extraction_back(faulty_sandbox, clean_warehouse, warehouse_url, dagster_instance):
    materialize(faulty_sandbox, warehouse_url, dagster_instance, CORE[:1])
    before = (snapshot(clean_warehouse, ["organizations"]), watermarks(clean_warehouse))
    faulty_sandbox.set_faults(loop_cursor=True)  # pages 1 and 2 load, then the loop is detected
    with pytest.raises(Exception, match="cursor already followed"):
        materialize(faulty_sandbox, warehouse_url, dagster_instance, CORE[:1], full_refresh=True, page_size=2)
    assert_same_tables(before[0], snapshot(clean_warehouse, ["organizations"]))
    assert watermarks(clean_warehouse) == before[1]


def test_a_wrong_token_fails_with_one_authentication_error(sandbox, clean_warehouse, warehouse_url, dagster_instance):
    result = materialize(sandbox, warehouse_url, dagster_instance, CORE[:1], raise_on_error=False, token="wrong")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    error, messages = failure.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    message = "\n".join(messages)
    assert "AuthenticationError: /v1/organizations: the LMS API refused the token (HTTP 401)" in message
    assert "retrying" not in message and "Bearer" not in message
    assert watermarks(clean_warehouse) == {}


def test_invalid_rows_are_quarantined_counted_and_checked(faulty_sandbox, clean_core, clean_warehouse, warehouse_url, dagster_instance):
    faulty_sandbox.set_faults(seed=5, invalid_row_rate=0.05)
    result = materialize(faulty_sandbox, warehouse_url, dagster_instance, CORE, page_size=100)
    users = metadata(result, "users")
    with clean_warehouse.connect() as conn:
        quarantined = pd.read_sql_query(sa.text("select resource, source_id, reason, payload, run_id from quarantine"), conn)
    counted = sum(metadata(result, a.key.path[-1])["rows_quarantined_invalid"] for a in CORE)
    orphans = sum(metadata(result, a.key.path[-1])["rows_quarantined_unknown_parent"] for a in CORE)
    assert counted + orphans == len(quarantined) and counted > 0 and (quarantined["run_id"] == result.run_id).all()
    assert users["rows_quarantined_invalid"] == (quarantined["resource"] == "users").sum()
    # Every user that passed is exactly the clean one; the quarantined ones (invalid — possibly without an
    # id — or of a quarantined organization) are missing, nothing else.
    loaded = snapshot(clean_warehouse, ["users"])["users"]
    expected = clean_core["users"][clean_core["users"]["id"].isin(loaded["id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded, expected)
    assert len(loaded) + (quarantined["resource"] == "users").sum() == len(clean_core["users"])
    # Enrollments of quarantined users become unknown-parent rows, quarantined and counted too.
    enrollments = metadata(result, "enrollments")
    orphan_rows = quarantined[quarantined["reason"].str.startswith("unknown parent ")]
    assert enrollments["rows_quarantined_unknown_parent"] == (orphan_rows["resource"] == "enrollments").sum() > 0
    checks = {c.asset_key.path[-1]: c for c in result.get_asset_check_evaluations()}
    assert not checks["users"].passed and checks["users"].metadata["share"].value > 0.01


def days_until_first_erasure() -> int:
    """Probe a sandbox of the same seed: after how many days does it publish a user's deletion?"""
    probe = start_in_thread("XS", seed=42, token=TOKEN, port=0)
    try:
        now = pd.Timestamp(probe.platform.state()["now"])
        probe.advance(14)
        with api_resource(probe.url, page_size=5000).client() as client:
            rows = [r for page in client.pages("deletions", format_watermark(now)) for r in page.rows]
    finally:
        probe.stop()
    erasures = [pd.Timestamp(r["updated_at"]) for r in rows if r["resource"] == "users"]
    assert erasures, "the sandbox publishes no user erasure within 14 days"
    return math.ceil((min(erasures) - now) / pd.Timedelta(days=1))


def test_a_users_deletion_erases_the_user_everywhere(fresh_sandbox, clean_warehouse, warehouse_url, dagster_instance):
    days = days_until_first_erasure()
    materialize(fresh_sandbox, warehouse_url, dagster_instance)
    with clean_warehouse.connect() as conn:
        users_before = set(conn.execute(sa.text("select id from users")).scalars())
    fresh_sandbox.advance(days)
    result = materialize(fresh_sandbox, warehouse_url, dagster_instance)
    with clean_warehouse.connect() as conn:
        erased = users_before - set(conn.execute(sa.text("select id from users")).scalars())
    assert erased and metadata(result, "deletions")["rows_deleted"] > 0
    with clean_warehouse.connect() as conn:
        for table in ("user_roles", "user_preferences", "user_skills", "enrollments", "assessment_results", "learning_events"):
            left = conn.execute(sa.text(f"select count(*) from {table} where user_id = any(:ids)"), {"ids": list(erased)}).scalar_one()
            assert left == 0, table
