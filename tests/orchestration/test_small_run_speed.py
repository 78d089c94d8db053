"""What makes the small in-process run faster keeps its behaviour: the remembered schema checks of
Dagster's event log (real PostgreSQL storage) and the choice of what the GX warm-up builds."""
from __future__ import annotations

import uuid
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa

from analytics_pipeline.orchestration import warmup
from analytics_pipeline.orchestration.launch import remember_storage_schema
from analytics_pipeline.warehouse.engine import drop_database, ensure_database
from analytics_pipeline.warehouse.urls import dagster_storage_url


@contextmanager
def _catalog_queries(engine):
    """The catalog statements (``pg_catalog``) the storage's own engine sends, as the server gets them."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "pg_catalog" in statement:
            sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_event_log_schema_checks_are_asked_once_per_yes(pg_server_url):
    """After remember_storage_schema, a "yes" (table or asset-key column exists) reaches the
    database once; a "no" is asked again each time (counted at the storage's engine)."""
    name = f"ap_dagster_{uuid.uuid4().hex[:10]}"
    url = ensure_database(pg_server_url, name)
    try:
        with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": dagster_storage_url(url, name)}}}) as instance:
            storage = instance.event_log_storage
            remember_storage_schema(instance)
            with _catalog_queries(storage._engine) as sent:
                asked = []
                for answer, call in ((True, lambda: storage.has_table("event_logs")),) * 3 + \
                        ((False, lambda: storage.has_table("no_such_table")),) * 2 + \
                        ((True, storage.has_asset_key_index_cols),) * 2 + \
                        ((False, lambda: storage.has_asset_key_col("no_such_column")),) * 2:
                    before = len(sent)
                    assert call() is answer
                    asked.append(len(sent) > before)
            assert asked == [True, False, False, True, True, True, False, True, True]
            # the storage still works through the remembered checks: an asset event is written and read back
            instance.report_runless_asset_event(dg.AssetMaterialization("speed_probe"))
            assert instance.get_latest_materialization_event(dg.AssetKey("speed_probe")) is not None
    finally:
        drop_database(pg_server_url, name)


def test_gx_warm_up_covers_the_suites_gx_will_validate():
    steps = ["users", "mastery_analytics", "engagement_analytics", "learner_velocity_analytics", "retention"]
    config = {"ops": {"engagement_analytics": {"config": {"quality_engine": "pandas"}},
                      "learner_velocity_analytics": {"config": {"quality_engine": "gx"}}}}
    assert warmup.gx_suites(steps, config) == ["mastery", "velocity"]
    assert warmup.gx_suites(steps, None) == ["mastery", "engagement", "velocity"]
    assert warmup.gx_suites(["erasure", "retention"], {}) == []
    assert warmup.start(["erasure", "retention"], {}) is None  # a job without snapshots starts no thread


def test_scikit_learn_is_warmed_only_when_the_drop_off_model_will_train(clean_warehouse, warehouse_url, monkeypatch):
    import pandas as pd

    from analytics_pipeline.predictive import store

    monkeypatch.setenv("DATABASE_URL", warehouse_url)
    steps = ["users", warmup.DROP_OFF_STEP]
    assert warmup.drop_off_will_train(steps, "2026-03-01")             # nothing stored: it trains
    assert not warmup.drop_off_will_train(["users"], "2026-03-01")     # not in the plan
    assert not warmup.drop_off_will_train(steps, None)                 # no partition
    T = pd.Timestamp("2026-03-02", tz="UTC")                           # the end of 2026-03-01
    store.save_model(clean_warehouse, "drop_off_risk", T, {"method": "prior"}, pd.Timedelta(days=7))
    assert not warmup.drop_off_will_train(steps, "2026-03-01")         # a model valid at T: reused
    assert warmup.drop_off_will_train(steps, "2026-02-27")             # stored after that T: trains
