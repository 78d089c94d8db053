"""The six learner-analytics assets materialized through Dagster against real PostgreSQL."""
import json

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.assets.learner_analytics import ASSETS
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.analytics.store import run_snapshot

from . import raw

TABLES = ["learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics",
          "mastery_analytics", "performance_analytics", "content_effectiveness_analytics"]
BY_TABLE = {a.key.to_user_string(): a for a in ASSETS}


def materialize(assets, key, url, instance, run_config=None, raise_on_error=True):
    return dg.materialize(assets, partition_key=key, instance=instance,
                          resources={"warehouse": WarehouseResource(database_url=url)},
                          run_config=run_config, raise_on_error=raise_on_error)


def rows(engine, table, T=None):
    sql = f"select * from {table}" + (" where calculated_at = :t" if T is not None else "")
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql + " order by user_id, calculated_at"), conn,
                                 params={"t": T.to_pydatetime()} if T is not None else {})


def test_rows_per_active_learner_ttl_rerun_and_metadata(clean_warehouse, warehouse_url,
                                                         dagster_instance):
    raw.load(clean_warehouse)
    T = raw.ts("2025-03-13")  # partition 2025-03-12
    result = materialize(ASSETS, "2025-03-12", warehouse_url, dagster_instance)
    assert result.success
    active = ["u1", "u2", "u4"]  # u3 withdrew on 03-05; u4 enrolled on 03-12
    expected = {t: active for t in TABLES}
    expected["mastery_analytics"] = ["u1", "u2", "u4", "u5"]  # u5: known skills only
    for table in TABLES:
        df = rows(clean_warehouse, table)
        assert df["user_id"].tolist() == expected[table], table
        assert (df["calculated_at"] == T).all()
        ttl = pd.Timedelta(days=7) if table.startswith("content") else pd.Timedelta(hours=24)
        assert (df["expires_at"] == T + ttl).all(), table

    checks = result.get_asset_check_evaluations()
    assert {(c.asset_key.to_user_string(), c.check_name) for c in checks if c.passed} >= {
        (t, "quality") for t in TABLES}
    mats = {m.asset_key.to_user_string(): m.metadata
            for m in result.get_asset_materialization_events() and
            [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]}
    velocity = mats["learner_velocity_analytics"]
    assert velocity["dagster/row_count"].value == 3
    assert velocity["chunks"].value == 1
    assert velocity["distribution_counts"].value == {"behind": 1, "at_risk": 2}
    assert "u1" in velocity["preview"].value
    assert [c.name for c in velocity["dagster/column_schema"].schema.columns][:2] == [
        "user_id", "current_pace"]
    assert set(velocity["source_tables"].value) == {"enrollments", "courses", "learning_events",
                                                    "learner_daily_activity"}
    assert velocity["rows_per_second"].value > 0
    assert mats["engagement_analytics"]["distribution_counts"].value["0-9"] >= 1

    # re-run of the same day: replaced, not duplicated, same values
    before = {t: rows(clean_warehouse, t).drop(columns="id") for t in TABLES}
    assert materialize(ASSETS, "2025-03-12", warehouse_url, dagster_instance).success
    for table in TABLES:
        pd.testing.assert_frame_equal(rows(clean_warehouse, table).drop(columns="id"),
                                      before[table], obj=table)


def test_ttl_is_configurable(clean_warehouse, warehouse_url, dagster_instance):
    raw.load(clean_warehouse)
    asset = BY_TABLE["performance_analytics"]
    config = {"ops": {"performance_analytics": {"config": {"ttl_hours": 6}}}}
    assert materialize([asset], "2025-03-12", warehouse_url, dagster_instance, config).success
    df = rows(clean_warehouse, "performance_analytics")
    assert (df["expires_at"] - df["calculated_at"] == pd.Timedelta(hours=6)).all()


def test_quality_failure_stops_the_write_and_keeps_the_previous_snapshot(
        clean_warehouse, warehouse_url, dagster_instance):
    raw.load(clean_warehouse)
    asset = BY_TABLE["engagement_analytics"]
    assert materialize([asset], "2025-03-12", warehouse_url, dagster_instance).success
    good = rows(clean_warehouse, "engagement_analytics")
    # a planted configuration that produces out-of-range scores (recency weight 10 -> > 100)
    bad = {"ops": {"engagement_analytics": {"config": {"thresholds": {"weight_recency": 10.0}}}}}
    result = materialize([asset], "2025-03-12", warehouse_url, dagster_instance, bad,
                         raise_on_error=False)
    assert not result.success
    pd.testing.assert_frame_equal(rows(clean_warehouse, "engagement_analytics"), good)
    [quality] = [c for c in result.get_asset_check_evaluations() if c.check_name == "quality"]
    assert not quality.passed
    failed = quality.metadata["failed_expectations"].value
    assert [(f["expectation"], f["column"]) for f in failed] == [
        ("expect_column_values_to_be_between", "overall_score")]
    [failure] = result.get_step_failure_events()
    assert "overall_score" in failure.event_specific_data.error.message


def test_bad_frame_through_the_writer_path_rolls_back(clean_warehouse):
    raw.load(clean_warehouse)
    T = raw.ts("2025-03-13")
    run_snapshot(clean_warehouse, "performance", T)
    good = rows(clean_warehouse, "performance_analytics")

    def corrupt(frame):  # duplicate learner, pass rate as a share, unknown trend
        frame = pd.concat([frame, frame.head(1)], ignore_index=True)
        frame.loc[0, "pass_rate"] = 150.0
        frame.loc[1, "trend"] = "up"
        return frame

    from analytics_pipeline.analytics.store import QualityError
    with pytest.raises(QualityError) as info:
        run_snapshot(clean_warehouse, "performance", T, transform=corrupt)
    failed = {(f["expectation"], f["column"]) for f in info.value.outcome.failures}
    assert failed == {("expect_column_values_to_be_between", "pass_rate"),
                      ("expect_column_values_to_be_in_set", "trend"),
                      ("expect_compound_columns_to_be_unique", "['user_id', 'calculated_at']")}
    pd.testing.assert_frame_equal(rows(clean_warehouse, "performance_analytics"), good)


def test_chunks_give_the_same_rows(clean_warehouse):
    raw.load(clean_warehouse)
    T = raw.ts("2025-03-13")
    for name, table in [("velocity", TABLES[0]), ("skill_gap", TABLES[1]),
                        ("engagement", TABLES[2]), ("mastery", TABLES[3]),
                        ("performance", TABLES[4]), ("content_effectiveness", TABLES[5])]:
        one = run_snapshot(clean_warehouse, name, T)
        single = rows(clean_warehouse, table).drop(columns="id")
        many = run_snapshot(clean_warehouse, name, T, chunk_learners=2)
        assert (one.chunks, many.chunks) == (1, 3)
        assert sum(many.chunk_rows) == len(single)
        pd.testing.assert_frame_equal(rows(clean_warehouse, table).drop(columns="id"), single,
                                      obj=table)


def test_content_evidence_read_once_for_several_chunks(clean_warehouse):
    """Issue 18: content effectiveness' evidence (events and results) is scanned once per group
    of chunks (GroupedReads), whatever the group size the same rows and stored effects."""
    raw.load(clean_warehouse)
    T = raw.ts("2025-03-13")
    table = TABLES[5]

    def effects():
        with clean_warehouse.connect() as conn:
            return conn.execute(sa.text("select model from predictive_models where "
                                        "analytics_type = 'item_effects' and calculated_at = :t"),
                                {"t": T.to_pydatetime()}).scalar_one()
    one = run_snapshot(clean_warehouse, "content_effectiveness", T)
    single, single_effects = rows(clean_warehouse, table).drop(columns="id"), effects()
    assert one.chunks == 1 and one.effect_scans == 2 and len(single) > 0
    for per_read, scans in ((1, 3), (2, 2), (3, 1)):
        many = run_snapshot(clean_warehouse, "content_effectiveness", T, chunk_learners=2,
                            effect_read_learners=2 * per_read)
        assert many.chunks == 3 and many.effect_scans == 2 * scans, per_read
        pd.testing.assert_frame_equal(rows(clean_warehouse, table).drop(columns="id"), single)
        assert effects() == single_effects


def test_current_views_latest_unexpired_row_per_learner(clean_warehouse, warehouse_url,
                                                        dagster_instance):
    raw.load(clean_warehouse)
    today = pd.Timestamp.now(tz="UTC").normalize()
    yesterday = (today - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    before = (today - pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    assets = [BY_TABLE["learner_velocity_analytics"], BY_TABLE["content_effectiveness_analytics"]]
    for key in (before, yesterday):
        assert materialize(assets, key, warehouse_url, dagster_instance).success
    with clean_warehouse.connect() as conn:
        for table in ("learner_velocity_analytics", "content_effectiveness_analytics"):
            assert conn.execute(sa.text(f"select count(*) from {table}")).scalar_one() == 6
            cur = pd.read_sql_query(sa.text(f"select * from {table}_current order by user_id"),
                                    conn)
            assert cur["user_id"].tolist() == ["u1", "u2", "u4"]
            assert (cur["calculated_at"] == today).all()  # the latest snapshot (T = today 0:00)
            assert (cur["expires_at"] > pd.Timestamp.now(tz="UTC")).all()
        # velocity rows of `before` expired at today 0:00: not in the view even alone
        conn.execute(sa.text("delete from learner_velocity_analytics where calculated_at = :t"),
                     {"t": today.to_pydatetime()})
        assert conn.execute(sa.text(
            "select count(*) from learner_velocity_analytics_current")).scalar_one() == 0
        views = sorted(f"{t}_current" for t in (  # the six analytics views of 0004, by name
            "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics",
            "mastery_analytics", "performance_analytics", "content_effectiveness_analytics"))
        opts = conn.execute(sa.text(
            "select c.relname, c.reloptions from pg_class c where c.relname = any(:v) "
            "and c.relkind = 'v' order by 1"), {"v": views}).all()
        assert len(views) == 6 and [name for name, _ in opts] == views
        assert all(o and "security_invoker=true" in o for _, o in opts)
        conn.rollback()


def test_a_value_the_snapshot_column_cannot_hold_quarantines_that_learner_not_the_snapshot(clean_warehouse):
    """A pace beyond numeric(5,2) (here planted by the fault-injection hook) flags one learner; the others are written."""
    raw.load(clean_warehouse)
    T = raw.ts("2025-03-13")
    expected = run_snapshot(clean_warehouse, "velocity", T)
    good = rows(clean_warehouse, "learner_velocity_analytics", T)
    victim = good["user_id"].iloc[0]

    def overflow(frame):
        return frame.assign(current_pace=frame["current_pace"].mask(frame["user_id"] == victim, 123456.789))

    report = run_snapshot(clean_warehouse, "velocity", T, transform=overflow, run_id="run-overflow")
    assert (report.rows, report.quarantined) == (expected.rows - 1, 1)
    after = rows(clean_warehouse, "learner_velocity_analytics", T)
    kept = good[good["user_id"] != victim].reset_index(drop=True)
    columns = ["user_id", "current_pace", "target_pace", "status", "expires_at"]
    pd.testing.assert_frame_equal(after[columns], kept[columns])
    with clean_warehouse.connect() as conn:
        flagged = conn.execute(sa.text("select resource, source_id, reason, run_id from quarantine")).all()
    assert [tuple(r) for r in flagged] == [("learner_velocity_analytics", victim,
                                            "current_pace: 123456.789 does not fit numeric(5,2)", "run-overflow")]
