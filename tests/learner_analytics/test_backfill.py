"""Backfill of three past days: learner u1's values computed by hand (see raw.py)."""
import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.assets.learner_analytics import ASSETS
from analytics_pipeline.resources import WarehouseResource

from . import raw

ASSETS_BY_KEY = {a.key.to_user_string(): a for a in ASSETS}
T1, T2, T3 = raw.ts("2025-03-11"), raw.ts("2025-03-12"), raw.ts("2025-03-13")
DAY = pd.Timedelta(days=1)

# Velocity of u1 (enrollment e1, target 2025-04-12, progress now 50):
# known events at T1: a (+10, previous half), b (+8, recent half); T2: + c (+12, recent);
# T3: + e (+5, recent); d (+5) is ingested after T3: never counted, always rewound.
# progress at T: 50 - deltas not known at T: T1 50-12-5-5 = 28, T2 50-5-5 = 40, T3 50-5 = 45.
VELOCITY = {
    T1: dict(current_pace=18 / 4, target_pace=round(72 / (32 / 7), 2), trend_direction="declining",
             trend_percentage=-20.0, status="at_risk",  # 4.5 / 15.75 < 0.5
             estimated_completion=T1 + 16 * 7 * DAY),  # 72 / 4.5 = 16 weeks
    T2: dict(current_pace=30 / 4, target_pace=round(60 / (31 / 7), 2),
             trend_direction="accelerating", trend_percentage=100.0,  # 20 vs 10
             status="behind",  # 7.5 / 13.55 = 0.55
             estimated_completion=T2 + 8 * 7 * DAY),  # 60 / 7.5
    T3: dict(current_pace=35 / 4, target_pace=round(55 / (30 / 7), 2),
             trend_direction="accelerating", trend_percentage=150.0,  # 25 vs 10
             status="behind",  # 8.75 / 12.83 = 0.68
             estimated_completion=T3 + 44 * DAY),  # 55 / 8.75 = 6.2857 weeks = 44 days
}
# Performance of u1: r1 60 (03-01), r2 80 (03-10), r3 90 (03-11 12:00), r4 ingested after T3.
PERFORMANCE = {
    T1: dict(avg_score=70.0, assessments_taken=2, pass_rate=50.0, trend="improving"),  # slope 20
    T2: dict(avg_score=76.67, assessments_taken=3, pass_rate=66.67, trend="improving"),  # 15
    T3: dict(avg_score=76.67, assessments_taken=3, pass_rate=66.67, trend="improving"),
}


def test_backfill_three_days(clean_warehouse, warehouse_url, dagster_instance):
    """One run per partition (the assets' backfill policy), days in any order."""
    raw.load(clean_warehouse)
    assets = [ASSETS_BY_KEY["learner_velocity_analytics"], ASSETS_BY_KEY["performance_analytics"],
              ASSETS_BY_KEY["mastery_analytics"]]
    resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
    paths = {}
    for key in ("2025-03-12", "2025-03-10", "2025-03-11"):  # any order
        result = dg.materialize(assets, partition_key=key, resources=resources,
                                instance=dagster_instance)
        assert result.success
        for node in ("performance_analytics", "mastery_analytics"):
            meta = result.asset_materializations_for_node(node)[0].metadata
            paths[key, node] = (meta["snapshot_path"].value, meta["learners_carried"].value,
                                meta["learners_recomputed"].value)
    # the day before 2025-03-11's T (= the partition 2025-03-10) was written: carried from it
    # (issue 18); the other two days had no previous day yet: full
    for node in ("performance_analytics", "mastery_analytics"):
        assert paths["2025-03-12", node][0] == "full" and paths["2025-03-10", node][0] == "full"
        path, carried, recomputed = paths["2025-03-11", node]
        assert path == "carry" and carried + recomputed > 0, (node, paths["2025-03-11", node])
    with clean_warehouse.connect() as conn:
        vel = pd.read_sql_query(sa.text(
            "select * from learner_velocity_analytics where user_id = 'u1'"), conn) \
            .set_index("calculated_at")
        perf = pd.read_sql_query(sa.text(
            "select * from performance_analytics where user_id = 'u1'"), conn) \
            .set_index("calculated_at")
        mastery = pd.read_sql_query(sa.text(
            "select calculated_at, mastered_skills, in_progress_skills from mastery_analytics "
            "where user_id = 'u1'"), conn).set_index("calculated_at")
    assert sorted(vel.index) == [T1, T2, T3]
    for T, expected in VELOCITY.items():
        row = vel.loc[T]
        for column, value in expected.items():
            if isinstance(value, float):
                assert float(row[column]) == pytest.approx(value, abs=0.005), (T, column)
            else:
                assert row[column] == value, (T, column)
    for T, expected in PERFORMANCE.items():
        row = perf.loc[T]
        for column, value in expected.items():
            got = float(row[column]) if isinstance(value, float) else row[column]
            assert got == value, (T, column)
    # mastery: python (85) last assessed 03-11 12:00 -> unknown at T1 and T2? known from T2 on
    assert mastery.loc[T1].tolist() == [0, 1]   # sql 30 only
    assert mastery.loc[T2].tolist() == [1, 1]   # + python 85
    assert mastery.loc[T3].tolist() == [1, 1]
