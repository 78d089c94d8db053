"""user_points recomputes only the learners whose values can have changed since its last run
(store.update_user_points, sql/queries/gamification/user_points_learners.sql, migration 0017):
after every run below the table equals a recomputation of everyone, row for row, while the run
selected fewer learners than a full one."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.gamification import GamificationConfig, LevelRules, store
from tests.gamification.db_helpers import add_events, add_org, add_users, run_gamification, table

DAY = pd.Timedelta(days=1)


@pytest.fixture
def wh(clean_warehouse, warehouse_url):
    return clean_warehouse, warehouse_url


def _points(engine):
    return table(engine, "select user_id, total_points, current_level, current_streak, longest_streak "
                         "from user_points order by user_id").set_index("user_id")


def _as_of(engine) -> pd.Timestamp:
    return pd.Timestamp(table(engine, "select value #>> '{}' as v from pipeline_settings "
                                      "where key = 'gamification_as_of'")["v"][0])


def _equals_everyone(engine, rules=GamificationConfig()) -> pd.DataFrame:
    """The table as the changed-learners run left it must equal everyone recomputed."""
    incremental = _points(engine)
    meta = store.update_user_points(engine, _as_of(engine), rules, everyone=True)
    assert meta["path"] == "full"
    pd.testing.assert_frame_equal(incremental, _points(engine))
    return incremental


def _run(engine, url, day):
    """The four gamification assets for ``day``, then user_points' metadata as the asset wrote it."""
    result = run_gamification(url, day)
    mats = list(result.asset_materializations_for_node("user_points"))
    return {k: v.value for k, v in mats[-1].metadata.items()}


def test_changed_learners_only_equal_everyone_recomputed(wh):
    engine, url = wh
    add_users(engine, ["u1", "u2", "u3", "u4", "idle"])
    add_events(engine, [
        ("i1", "idle", "c9", "completed", "2025-02-20 10:00"),   # old activity only: never selected again
        ("a1", "u1", "c1", "completed", "2025-03-01 10:00"),
        ("a2", "u2", "c2", "completed", "2025-03-01 11:00"),
        ("a3", "u3", "c3", "completed", "2025-03-01 12:00"),
    ])
    first = _run(engine, url, "2025-03-01")
    assert first["path"] == "full" and first["path_reason"] == "no earlier run recorded"
    _equals_everyone(engine)

    # day 2: u1 and u4 active; u2 and u3 idle (their streak survives a day: grace)
    add_events(engine, [("b1", "u1", "c4", "completed", "2025-03-02 09:00"),
                        ("b4", "u4", "c1", "started", "2025-03-02 09:30")])
    second = _run(engine, url, "2025-03-02")
    assert second["path"] == "changed_learners"
    assert second["learners_selected"] == 4  # u1, u4 (new rows), u2, u3 (current streaks); not idle
    _equals_everyone(engine)

    # day 3: nobody active: the passing time ends u2's and u3's streaks (no new row of theirs)
    third = _run(engine, url, "2025-03-03")
    p = _equals_everyone(engine)
    assert p.loc["u2", "current_streak"] == 0 and p.loc["u1", "current_streak"] == 2
    assert third["learners_selected"] == 4

    # rows changed outside the pipeline's writers: a day deleted (retention), an award corrected
    with engine.begin() as conn:
        conn.execute(sa.text("delete from daily_activity where user_id = 'u1' and date = '2025-03-01'"))
        conn.execute(sa.text("update point_transactions set points = 99 "
                             "where user_id = 'u3' and activity_type = 'content_completed'"))
    fourth = _run(engine, url, "2025-03-04")
    p = _equals_everyone(engine)
    # retention deleting an active day changes no streak: the days are the ledger's daily awards
    assert p.loc["u1", "longest_streak"] == 2 and p.loc["u3", "total_points"] == 104
    assert fourth["learners_selected"] < 5

    # a late day arrives and its partition is backfilled: the as-of stays, the learner is recomputed
    add_events(engine, [("late", "u2", "c7", "completed", "2025-03-02 15:00")])
    backfill = _run(engine, url, "2025-03-02")
    assert pd.Timestamp(backfill["as_of"]) == pd.Timestamp("2025-03-05", tz="UTC")  # the same instant
    p = _equals_everyone(engine)
    assert p.loc["u2", "total_points"] == 30  # two contents 20 + two days 10


def test_rules_changed_recompute_everyone_a_time_zone_only_its_learners(wh):
    engine, url = wh
    add_org(engine, "org", "UTC")
    add_users(engine, ["u1", "u2"], org_id="org")
    add_events(engine, [("a1", "u1", "c1", "completed", "2025-03-01 10:00"),
                        ("a2", "u2", "c1", "completed", "2025-03-01 10:00")])
    T = pd.Timestamp("2025-03-02", tz="UTC")
    start, _ = store.window(engine, T - DAY, T)
    store.update_daily_activity(engine, start, T)
    store.update_ledger(engine, start, T, GamificationConfig().points)
    assert store.update_user_points(engine, T, GamificationConfig())["path"] == "full"
    assert store.update_user_points(engine, T, GamificationConfig())["path"] == "changed_learners"

    cheaper = GamificationConfig(levels=LevelRules(base=5.0))
    changed = store.update_user_points(engine, T, cheaper)
    assert (changed["path"], changed["learners_selected"]) == ("full", 2)
    assert changed["path_reason"] == "rules or code changed since the last run"
    assert set(_points(engine)["current_level"]) == {2}  # 15 points >= 5 × 1²
    _equals_everyone(engine, cheaper)

    # the organisation's zone changes: its two learners are recomputed, on the changed-learners path
    with engine.begin() as conn:
        conn.execute(sa.text("update organizations set settings = '{\"timezone\": \"Pacific/Kiritimati\"}'"))
    moved = store.update_user_points(engine, T, cheaper)
    assert (moved["path"], moved["learners_selected"]) == ("changed_learners", 2)
    _equals_everyone(engine, cheaper)


def test_one_learner_s_time_zone_change_recomputes_that_learner_only(wh):
    """A learner moved to an organisation 12 hours west: at T (06:00 UTC) their local date is the
    day before, so their last active day (two UTC days back) is within the grace again and the
    current streak goes from 0 to 1. Only that learner is recomputed, and the table equals
    everyone recomputed."""
    engine, url = wh
    add_org(engine, "utc", "UTC")
    add_org(engine, "west", "Etc/GMT+12")
    add_users(engine, ["u1", "u2", "u3", "u4"], org_id="utc")
    add_events(engine, [(f"a{i}", f"u{i}", "c1", "completed", "2025-02-28 10:00") for i in range(1, 5)])
    T = pd.Timestamp("2025-03-02 06:00", tz="UTC")
    start, _ = store.window(engine, T - DAY, T)
    store.update_daily_activity(engine, start, T)
    store.update_ledger(engine, start, T, GamificationConfig().points)
    assert store.update_user_points(engine, T, GamificationConfig())["path"] == "full"
    before = _points(engine)
    assert set(before["current_streak"]) == {0}  # two days back in UTC: the grace is one day
    assert store.update_user_points(engine, T, GamificationConfig())["learners_selected"] == 0

    with engine.begin() as conn:
        conn.execute(sa.text("update users set organization_id = 'west' where id = 'u3'"))
    moved = store.update_user_points(engine, T, GamificationConfig())
    assert (moved["path"], moved["learners_selected"], moved["rows_updated"]) == ("changed_learners", 1, 1)
    after = _equals_everyone(engine)
    assert after.loc["u3", "current_streak"] == 1
    pd.testing.assert_frame_equal(after.drop(index="u3"), before.drop(index="u3"))
    # the new zone is recorded: the next run selects u3 for its current streak only, and a learner
    # moved east (still no streak there) is selected once, then not again
    assert table(engine, "select tz from user_points_zones where user_id = 'u3'")["tz"][0] == "Etc/GMT+12"
    with engine.begin() as conn:
        conn.execute(sa.text("update organizations set settings = '{\"timezone\": \"Etc/GMT-1\"}' where id = 'utc'"))
    assert store.update_user_points(engine, T, GamificationConfig())["learners_selected"] == 4
    assert store.update_user_points(engine, T, GamificationConfig())["learners_selected"] == 1
    pd.testing.assert_frame_equal(_equals_everyone(engine), after)


def test_a_run_changes_nothing_when_nothing_changed(wh):
    engine, url = wh
    add_users(engine, ["u1", "u2"])
    add_events(engine, [("a1", "u1", "c1", "completed", "2025-02-01 10:00")])  # long ago: no streak
    run_gamification(url, "2025-03-01")
    again = _run(engine, url, "2025-03-01")
    assert (again["path"], again["learners_selected"], again["rows_updated"]) == ("changed_learners", 0, 0)
    assert _points(engine).loc["u1", "total_points"] == 15


def _indexes(engine, name):
    return table(engine, "select indexname, indexdef from pg_indexes where tablename = :t order by 1", t=name)


def test_the_first_run_builds_the_secondary_indexes_after_its_load(wh):
    """An empty ledger / daily_activity (the first catch-up) is loaded without its non-unique
    indexes, which are built again in the same transaction: the same indexes afterwards, the same
    rows as an incremental load (the second partition below inserts into filled tables)."""
    engine, url = wh
    before = {t: _indexes(engine, t) for t in ("point_transactions", "daily_activity")}
    assert len(before["point_transactions"]) == 4 and len(before["daily_activity"]) == 4
    add_users(engine, ["u1", "u2"])
    add_events(engine, [("a1", "u1", "c1", "completed", "2025-03-01 10:00"),
                        ("a2", "u2", "c2", "completed", "2025-03-01 11:00"),
                        ("b1", "u1", "c3", "completed", "2025-03-02 10:00")])
    first = run_gamification(url, "2025-03-01")
    for asset in ("daily_activity", "point_transactions"):
        mats = list(first.asset_materializations_for_node(asset))
        assert mats[-1].metadata["bulk_load"].value is True, asset
    for t, indexes in before.items():
        pd.testing.assert_frame_equal(_indexes(engine, t), indexes)
    second = run_gamification(url, "2025-03-02")
    assert list(second.asset_materializations_for_node("point_transactions"))[-1].metadata["bulk_load"].value is False
    rows = table(engine, "select user_id, points, source_id from point_transactions order by source_id")
    assert rows.to_dict("records") == [
        {"user_id": "u1", "points": 5, "source_id": "u1:2025-03-01"},
        {"user_id": "u1", "points": 5, "source_id": "u1:2025-03-02"},
        {"user_id": "u1", "points": 10, "source_id": "u1:c1"},
        {"user_id": "u1", "points": 10, "source_id": "u1:c3"},
        {"user_id": "u2", "points": 5, "source_id": "u2:2025-03-01"},
        {"user_id": "u2", "points": 10, "source_id": "u2:c2"}]
