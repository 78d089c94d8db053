"""The gamification assets against a real database: idempotent ledger, backfills, streaks through
the DB path (time zones), achievements once. Expected values computed by hand in each test."""
import pandas as pd
import pytest

from tests.gamification.db_helpers import (
    add_enrollments, add_events, add_org, add_results, add_users, ledger, metadata, run_gamification, table,
)


@pytest.fixture
def wh(clean_warehouse, warehouse_url):
    import sqlalchemy as sa

    with clean_warehouse.begin() as conn:  # pipeline_settings is kept by the truncation
        conn.execute(sa.text("delete from pipeline_settings where key = 'gamification_as_of'"))
    return clean_warehouse, warehouse_url


def _points(engine):
    return table(engine, "select user_id, total_points, current_level, current_streak, longest_streak "
                         "from user_points order by user_id").set_index("user_id")


def test_running_the_same_day_twice_changes_nothing(wh):
    engine, url = wh
    add_users(engine, ["u1", "u2"])
    add_events(engine, [
        ("e1", "u1", "c1", "started", "2025-03-10 09:00"),
        ("e2", "u1", "c1", "completed", "2025-03-10 09:30"),
        ("e3", "u1", "c1", "completed", "2025-03-10 10:00"),   # repeat: no second award
        ("e4", "u2", "c2", "completed", "2025-03-10 11:00"),
    ])
    add_results(engine, [("r1", "u1", "a1", 95, "2025-03-10 12:00"), ("r2", "u2", "a1", 50, "2025-03-10 12:00")])
    add_enrollments(engine, [("en1", "u2", "course-9", "2025-03-10 13:00")])
    first = run_gamification(url, "2025-03-10")
    before = (ledger(engine), _points(engine), table(engine, "select user_id, achievement_id, earned_at from "
                                                            "user_achievements order by 1, 2"))
    second = run_gamification(url, "2025-03-10")
    after = (ledger(engine), _points(engine), table(engine, "select user_id, achievement_id, earned_at from "
                                                           "user_achievements order by 1, 2"))
    for b, a in zip(before, after):
        pd.testing.assert_frame_equal(b, a)
    # u1: content 10 + passed 25 + excellence 10 + daily 5 = 50; u2: content 10 + course 100 + daily 5 = 115
    assert before[1]["total_points"].to_dict() == {"u1": 50, "u2": 115}
    assert before[1].loc["u2", "current_level"] == 2  # 115 >= 100
    assert metadata(first, "point_transactions")["awards_inserted"] == 7
    assert metadata(second, "point_transactions")["awards_inserted"] == 0
    sources = set(before[0]["source_id"])
    assert {"u1:c1", "u2:c2", "u1:a1", "u2:course-9", "u1:2025-03-10", "u2:2025-03-10"} == sources


def test_backfill_of_an_earlier_day_does_not_change_later_totals_twice(wh):
    engine, url = wh
    add_users(engine, ["u1"])
    add_events(engine, [
        ("e1", "u1", "c1", "completed", "2025-03-09 10:00"),
        ("e2", "u1", "c2", "completed", "2025-03-10 10:00"),
        ("e3", "u1", "c1", "completed", "2025-03-10 11:00"),  # c1 again on the later day
    ])
    run_gamification(url, "2025-03-10")         # first run catches up (CATCH_UP_DAYS): c1 10 + c2 10 + daily 5 + 5
    assert _points(engine).loc["u1", "total_points"] == 30
    run_gamification(url, "2025-03-09")         # backfill: the 9th again; nothing new
    run_gamification(url, "2025-03-10")         # and the later day again
    p = _points(engine)
    assert p.loc["u1", "total_points"] == 30    # 10 + 10 + 5 + 5, nothing twice
    assert (p.loc["u1", "current_streak"], p.loc["u1", "longest_streak"]) == (2, 2)
    led = ledger(engine)
    assert led.groupby("activity_type").size().to_dict() == {"content_completed": 2, "daily_first_activity": 2}
    # user_points stays as of the latest day processed, not the backfilled one
    as_of = table(engine, "select value #>> '{}' as v from pipeline_settings where key = 'gamification_as_of'")
    assert pd.Timestamp(as_of["v"][0]) == pd.Timestamp("2025-03-11", tz="UTC")


def test_streak_first_day_gap_and_grace_through_the_database(wh):
    engine, url = wh
    add_users(engine, ["u1"])
    add_events(engine, [("e1", "u1", "c1", "started", "2025-03-01 10:00")])
    run_gamification(url, "2025-03-01")
    assert tuple(_points(engine).loc["u1", ["current_streak", "longest_streak"]]) == (1, 1)  # first day
    add_events(engine, [("e2", "u1", "c1", "started", "2025-03-02 10:00"),
                        ("e3", "u1", "c1", "started", "2025-03-04 10:00")])  # 3 March missing
    for day in ["2025-03-02", "2025-03-03"]:
        run_gamification(url, day)
    # as of the end of 3 March: run 1-2 ends the day before T -> still current (grace 1 day)
    assert tuple(_points(engine).loc["u1", ["current_streak", "longest_streak"]]) == (2, 2)
    run_gamification(url, "2025-03-04")
    assert tuple(_points(engine).loc["u1", ["current_streak", "longest_streak"]]) == (1, 2)  # gap broke it
    run_gamification(url, "2025-03-06")  # 5 and 6 March inactive: 6 - 4 = 2 days > grace
    assert tuple(_points(engine).loc["u1", ["current_streak", "longest_streak"]]) == (0, 2)


def test_streak_days_and_daily_awards_in_the_organisation_time_zone(wh):
    engine, url = wh
    add_org(engine, "berlin", "Europe/Berlin")
    add_org(engine, "mars", "Mars/Olympus_Mons")          # unknown zone -> UTC
    add_org(engine, "odd", settings=["not", "an", "object"])  # malformed settings -> UTC
    add_users(engine, ["b1"], org_id="berlin")
    add_users(engine, ["m1"], org_id="mars")
    add_users(engine, ["o1"], org_id="odd")
    rows = []
    for u in ["b1", "m1", "o1"]:
        rows += [(f"{u}-1", u, "c1", "started", "2025-03-09 23:30"),   # Berlin: 10 March 00:30
                 (f"{u}-2", u, "c1", "started", "2025-03-10 10:00")]
    add_events(engine, rows)
    for day in ["2025-03-09", "2025-03-10"]:
        run_gamification(url, day)
    days = table(engine, "select user_id, date::text as date, first_activity_at from daily_activity order by 1, 2")
    assert days[days.user_id == "b1"]["date"].tolist() == ["2025-03-10"]
    assert days[days.user_id == "m1"]["date"].tolist() == ["2025-03-09", "2025-03-10"]
    assert days[days.user_id == "o1"]["date"].tolist() == ["2025-03-09", "2025-03-10"]
    # the Berlin day began in the previous UTC partition: its first event is still found
    b = days[days.user_id == "b1"].iloc[0]
    assert pd.Timestamp(b["first_activity_at"]) == pd.Timestamp("2025-03-09 23:30", tz="UTC")
    p = _points(engine)
    assert p.loc["b1", "total_points"] == 5 and p.loc["m1", "total_points"] == 10
    assert p.loc["b1", "current_streak"] == 1 and p.loc["m1", "current_streak"] == 2
    daily = ledger(engine).query("user_id == 'b1'")
    assert daily["source_id"].tolist() == ["b1:2025-03-10"]
    assert '"timezone": "Europe/Berlin"' in daily["metadata"].iloc[0]


def test_seventh_day_streak_bonus_and_week_achievement_once(wh):
    engine, url = wh
    add_users(engine, ["u1"])
    add_events(engine, [(f"e{d}", "u1", "c1", "started", f"2025-03-{d:02d} 08:00") for d in range(1, 9)])
    for d in range(1, 9):
        run_gamification(url, f"2025-03-{d:02d}")
    run_gamification(url, "2025-03-07")  # re-run of the bonus day
    led = ledger(engine)
    bonus = led[led.activity_type == "streak_bonus"]
    assert bonus["source_id"].tolist() == ["u1:2025-03-07"] and bonus["points"].tolist() == [50]
    ach = table(engine, "select achievement_id, earned_at from user_achievements where user_id = 'u1' order by 1")
    assert ach["achievement_id"].tolist() == ["streak-3", "week-streak"]
    earned = dict(zip(ach["achievement_id"], ach["earned_at"].map(pd.Timestamp)))
    assert earned["week-streak"] == pd.Timestamp("2025-03-07 08:00", tz="UTC")
    assert earned["streak-3"] == pd.Timestamp("2025-03-03 08:00", tz="UTC")
    # 8 daily awards × 5 + one bonus 50 = 90: not yet the 100 of points-100
    assert _points(engine).loc["u1", "total_points"] == 90


def test_late_earlier_completion_and_learners_that_arrive_late(wh):
    engine, url = wh
    add_users(engine, ["u1"])
    add_events(engine, [("e2", "u1", "c1", "completed", "2025-03-10 10:00"),
                        ("x1", "ghost", "c1", "completed", "2025-03-10 10:00")])  # user not loaded yet
    result = run_gamification(url, "2025-03-10")
    meta = metadata(result, "point_transactions")
    assert meta["item_awards_of_unknown_users"] == 1
    assert metadata(result, "daily_activity")["events_of_unknown_users"] == 1
    # a late, earlier completion of the same content and the missing user arrive; both days re-run
    add_events(engine, [("e1", "u1", "c1", "completed", "2025-03-09 10:00")])
    add_users(engine, ["ghost"])
    run_gamification(url, "2025-03-09")
    run_gamification(url, "2025-03-10")
    led = ledger(engine)
    content = led[led.activity_type == "content_completed"].set_index("user_id")
    assert content["source_id"].to_dict() == {"u1": "u1:c1", "ghost": "ghost:c1"}  # c1 paid once each
    assert '"origin_id": "e2"' in content.loc["u1", "metadata"]  # the first award written stays
    p = _points(engine)
    assert p["total_points"].to_dict() == {"ghost": 15, "u1": 20}  # u1: 10 + daily 5 + 5


def test_rules_are_configuration(wh):
    engine, url = wh
    add_users(engine, ["u1"])
    add_events(engine, [("e1", "u1", "c1", "completed", "2025-03-10 10:00")])
    rules = {"content_completed": 7, "daily_first_activity": 1, "level_base": 5.0}
    run_gamification(url, "2025-03-10", run_config={"ops": {
        name: {"config": rules} for name in ["point_transactions", "user_points", "user_achievements"]}})
    p = _points(engine)
    assert p.loc["u1", "total_points"] == 8
    assert p.loc["u1", "current_level"] == 2  # 5 × (2 − 1)² = 5 <= 8 < 20


def test_a_total_beyond_the_integer_column_quarantines_that_learner_not_the_asset(wh):
    """u1's ledger sums past integer (2^31 - 1): user_points writes u2 and flags u1 with the reason."""
    import sqlalchemy as sa

    from analytics_pipeline.assets.gamification import user_points

    engine, url = wh
    add_users(engine, ["u1", "u2"])
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into point_transactions (user_id, points, activity_type, source_id, \"timestamp\") values "
            "('u1', 2147483647, 'manual', 'big-1', '2025-03-10 10:00+00'), "
            "('u1', 2147483647, 'manual', 'big-2', '2025-03-10 11:00+00'), "
            "('u2', 40, 'manual', 'small', '2025-03-10 12:00+00')"))
    result = run_gamification(url, "2025-03-10", assets=[user_points])
    assert metadata(result, "user_points")["rows_quarantined"] == 1
    assert _points(engine)["total_points"].to_dict() == {"u2": 40}
    flagged = table(engine, "select resource, source_id, reason, run_id from quarantine")
    assert flagged.to_dict("records") == [{
        "resource": "user_points", "source_id": "u1", "reason": "total_points: 4294967294 does not fit integer",
        "run_id": result.run_id}]
