"""The governance assets and their checks through Dagster, and the migration's role creation under a race."""
import re
import threading
import time
import uuid

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.assets import governance as gov
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.settings import SQL_DIR
from tests.governance.people import seed_people


def test_assets_and_checks_in_one_run(clean_warehouse, warehouse_url, dagster_instance):
    day = (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1))
    with clean_warehouse.begin() as conn:
        seed_people(conn, (day + pd.Timedelta(days=1)).to_pydatetime())
        conn.execute(sa.text("insert into learning_events (id, user_id, event_type, occurred_at, updated_at) "
                             "values ('le-ancient', 'a1', 'started', now() - interval '200 days', now())"))
        conn.execute(sa.text("insert into erasure_requests (user_id) values ('b1')"))
    result = dg.materialize(
        [gov.access_control, gov.retention, gov.erasure, gov.access_is_governed, gov.retention_limits_hold,
         gov.expiry_is_consistent, gov.erasure_is_complete],
        partition_key=day.date().isoformat(),
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
        instance=dagster_instance,
    )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"access_is_governed": True, "retention_limits_hold": True,
                      "expiry_is_consistent": True, "erasure_is_complete": True}
    retention_meta = result.asset_materializations_for_node("retention")[0].metadata
    assert retention_meta["learning_events_rows_removed"].value == 1
    assert retention_meta["as_of"].value == (day + pd.Timedelta(days=1)).isoformat()
    erasure_meta = result.asset_materializations_for_node("erasure")[0].metadata
    assert erasure_meta["learners_erased"].value == 1
    with clean_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from users where id = 'b1'")).scalar_one() == 0
        runs = conn.execute(sa.text("select distinct run_id from governance_audit")).scalars().all()
    assert runs == [result.run_id]


def test_k_checks_invoked_directly(clean_warehouse, warehouse_url):
    resource = WarehouseResource(database_url=warehouse_url)
    assert gov.peer_comparison_k_anonymity(warehouse=resource).passed
    assert gov.skill_demand_k_anonymity(warehouse=resource).passed


def test_governance_definitions_load():
    defs = dg.Definitions.merge(gov.defs, dg.Definitions(resources={"warehouse": WarehouseResource(database_url="postgresql://u@h/d")}))
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"access_control", "retention", "erasure"} <= keys
    assert all(graph.get(dg.AssetKey(k)).group_name == "governance" for k in ("access_control", "retention", "erasure"))
    checks = {key.name for key in graph.asset_check_keys}
    assert {"peer_comparison_k_anonymity", "skill_demand_k_anonymity", "retention_limits_hold"} <= checks


def test_role_creation_is_idempotent_when_two_sessions_race(engine):
    """The migration's DO block, run by two sessions at once for a fresh role name: no error."""
    migration = (SQL_DIR / "migrations" / "0006_governance.sql").read_text()
    block = re.search(r"DO \$\$\nBEGIN\n  IF NOT EXISTS \(SELECT 1 FROM pg_roles WHERE rolname = 'authenticated'\).*?END \$\$;",
                      migration, re.S).group(0)
    role = f"gov_race_{uuid.uuid4().hex[:8]}"
    block = block.replace("authenticated", role)
    errors = []
    try:
        with engine.connect() as first:
            first.execute(sa.text(block))  # created, not committed: the second session waits on it

            def second():
                try:
                    with engine.begin() as conn:
                        conn.execute(sa.text(block))
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.5)
            first.commit()
            thread.join(30)
        assert errors == []
        with engine.begin() as conn:
            conn.execute(sa.text(block))  # and a third time, sequentially
            assert conn.execute(sa.text("select count(*) from pg_roles where rolname = :r"), {"r": role}).scalar_one() == 1
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop role if exists "{role}"'))
