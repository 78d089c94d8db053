"""The independent checks of the gamification (warehouse/independent_check.py: points_ledger,
user_points, achievements) on hand-built raw rows run through the real assets: the published
ledger, totals / levels / streaks and achievements equal their second computation (one SQL
statement over the raw tables), and a corrupted published row is reported with its learner.

Partition 2025-03-10: T = 2025-03-11 00:00 UTC; the first run catches up on T − 90 d.
- u1 (Europe/Berlin): an event every day 1-9 March at 08:00 UTC and 9 March 23:30 UTC (Berlin:
  10 March) -> 10 local days in a row (5 each, bonus 50 on the 7th); c1 completed twice (10 once);
  a1 passed with 95 (25 + 10). Total 145, level 2, streak 10 / 10.
- u2 (UTC): two completions without content id (10 each: each pays on its own), course-9
  completed (100), a2 passed with 80 and again with 95 (25 once, excellence 10 once), one day (5):
  total 160, level 2, streak 1 / 1.
- u3 (UTC): one active day, 8 March (5): streak 0 (two days before T's date) / 1; an event of
  1 December 2024 lies before the catch-up (T − 90 d) and earns nothing; five skills mastered.
"""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.warehouse import independent_check
from tests.gamification.db_helpers import (
    add_enrollments, add_events, add_org, add_results, add_users, metadata, run_gamification, table,
)

T = pd.Timestamp("2025-03-11", tz="UTC")
CHECKS = ("points_ledger", "user_points", "achievements")


@pytest.fixture
def published(clean_warehouse, warehouse_url):
    engine = clean_warehouse
    with engine.begin() as conn:  # pipeline_settings is kept by the truncation
        conn.execute(sa.text("delete from pipeline_settings where key = 'gamification_as_of'"))
    add_org(engine, "berlin", "Europe/Berlin")
    add_users(engine, ["u1"], org_id="berlin")
    add_users(engine, ["u2", "u3"])
    add_events(engine, [
        *[(f"u1-d{d}", "u1", "c0", "started", f"2025-03-{d:02d} 08:00") for d in range(1, 10)],
        ("u1-late", "u1", "c0", "started", "2025-03-09 23:30"),
        ("u1-c1", "u1", "c1", "completed", "2025-03-08 10:00"),
        ("u1-c1-again", "u1", "c1", "completed", "2025-03-09 10:00"),
        ("u2-n1", "u2", None, "completed", "2025-03-10 09:00"),
        ("u2-n2", "u2", None, "completed", "2025-03-10 10:00"),
        ("u3-old", "u3", "c0", "started", "2024-12-01 10:00"),
        ("u3-d8", "u3", "c0", "started", "2025-03-08 10:00"),
    ])
    add_results(engine, [("r1", "u1", "a1", 95, "2025-03-05 12:00"),
                         ("r2", "u2", "a2", 80, "2025-03-10 11:00"),
                         ("r3", "u2", "a2", 95, "2025-03-10 14:00")])
    add_enrollments(engine, [("en1", "u2", "course-9", "2025-03-10 13:00")])
    with engine.begin() as conn:
        conn.execute(sa.text("insert into skills (id, name) select 's' || i, 'Skill ' || i "
                             "from generate_series(1, 5) i"))
        conn.execute(sa.text(
            "insert into user_skills (user_id, skill_id, mastery_level, last_assessed_at) "
            "select 'u3', 's' || i, 85, timestamptz '2025-03-01 12:00+00' + i * interval '1 day' "
            "from generate_series(1, 5) i"))
    run_gamification(warehouse_url, "2025-03-10")
    return engine


def _rows(engine, name):
    return independent_check.independent_rows(engine, name, T).set_index("user_id").sort_index()


def test_the_published_gamification_equals_its_independent_computation(published):
    for name in CHECKS:
        at = independent_check.gamification_as_of(published) if name == "user_points" else T
        assert at == T
        report = independent_check.check(published, name, at)
        assert report["passed"], independent_check.summary(report)
        assert report["compared"] == 3 and report["out_of_scope"] == 0, name
    # the second computation itself, by hand
    ledger = _rows(published, "points_ledger")
    assert ledger["total_points"].to_dict() == {"u1": 145, "u2": 160, "u3": 5}
    assert ledger.loc["u1", ["daily_first_activity", "streak_bonus", "content_completed"]].tolist() == [50, 50, 10]
    assert ledger.loc["u2", ["content_completed", "course_completed", "assessment_passed",
                             "assessment_excellence_bonus"]].tolist() == [20, 100, 25, 10]
    points = _rows(published, "user_points")
    assert points[["current_level", "current_streak", "longest_streak"]].to_dict("index") == {
        "u1": {"current_level": 2, "current_streak": 10, "longest_streak": 10},
        "u2": {"current_level": 2, "current_streak": 1, "longest_streak": 1},
        "u3": {"current_level": 1, "current_streak": 0, "longest_streak": 1}}
    earned = _rows(published, "achievements")["earned"].map(
        lambda items: {i["achievement_id"]: i["earned_at"] for i in items}).to_dict()
    assert earned == {
        "u1": {"first-assessment": "2025-03-05T12:00:00.000000", "points-100": "2025-03-07T08:00:00.000000",
               "streak-3": "2025-03-03T08:00:00.000000", "week-streak": "2025-03-07T08:00:00.000000"},
        # 09:00 content 10 + day 5, 10:00 content 10, 11:00 passed 25, 13:00 course 100 -> 150
        "u2": {"first-assessment": "2025-03-10T11:00:00.000000", "first-course": "2025-03-10T13:00:00.000000",
               "points-100": "2025-03-10T13:00:00.000000"},
        "u3": {"first-skill": "2025-03-02T12:00:00.000000", "skill-master": "2025-03-06T12:00:00.000000"}}


def test_a_corrupted_published_row_is_reported_with_its_learner(published):
    with published.begin() as conn:
        conn.execute(sa.text("update user_points set current_streak = current_streak + 1 where user_id = 'u3'"))
        conn.execute(sa.text("delete from point_transactions where activity_type = 'streak_bonus'"))
        conn.execute(sa.text("update user_achievements set earned_at = earned_at + interval '1 second' "
                             "where user_id = 'u2' and achievement_id = 'first-course'"))
    points = independent_check.check(published, "user_points", T)
    assert points["mismatching"] == ["u3"] and points["columns"]["current_streak"]["mismatches"] == 1
    assert points["columns"]["total_points"]["mismatches"] == 0  # user_points was written before the delete
    ledger = independent_check.check(published, "points_ledger", T)
    assert ledger["mismatching"] == ["u1"]
    assert {c: e["mismatches"] for c, e in ledger["columns"].items() if e["mismatches"]} == {
        "streak_bonus": 1, "total_points": 1, "awards": 1}
    achievements = independent_check.check(published, "achievements", T)
    assert achievements["mismatching"] == ["u2"] and not achievements["passed"]
    assert "1 mismatching" in independent_check.summary(achievements)


def test_a_learner_whose_ledger_reaches_back_before_the_retention_window_is_left_out(published):
    with published.begin() as conn:  # an award older than T - 90 d: its raw rows are gone
        conn.execute(sa.text(
            "insert into point_transactions (user_id, points, activity_type, source_id, \"timestamp\") "
            "values ('u3', 5, 'daily_first_activity', 'u3:2024-11-01', '2024-11-01 10:00+00')"))
        conn.execute(sa.text("update user_points set total_points = 10 where user_id = 'u3'"))
    for name in ("points_ledger", "user_points"):
        report = independent_check.check(published, name, T)
        assert report["passed"] and report["out_of_scope"] == 1 and report["compared"] == 2, name
    assert table(published, "select count(*) as n from point_transactions where user_id = 'u3'")["n"][0] == 2


def test_a_day_award_whose_day_retention_deleted_is_left_out_even_within_26_hours(published):
    # the next day at M: u3's local day 10 December 2024 (UTC) began 9.5 h before the cutoff
    # T - 90 d = 11 December 00:00 and ended before it; retention deleted its events and its
    # daily_activity row (date < the cutoff's date), the award stays (a ledger fact). The check
    # counts only days with an event in [T - 90 d, T], so it cannot recompute this one.
    with published.begin() as conn:
        conn.execute(sa.text(
            "insert into point_transactions (user_id, points, activity_type, source_id, metadata, \"timestamp\") "
            "values ('u3', 5, 'daily_first_activity', 'u3:2024-12-10', "
            "'{\"date\": \"2024-12-10\", \"timezone\": \"UTC\"}', '2024-12-10 14:30+00')"))
        conn.execute(sa.text("update user_points set total_points = 10 where user_id = 'u3'"))
        conn.execute(sa.text("delete from learning_events where occurred_at < '2024-12-11'"))
    for name in ("points_ledger", "user_points", "achievements"):
        report = independent_check.check(published, name, T)
        assert report["passed"] and report["out_of_scope"] == 1 and report["compared"] == 2, name
    # a day award the retained events do recompute stays compared: a wrong one is reported
    with published.begin() as conn:
        conn.execute(sa.text(
            "insert into point_transactions (user_id, points, activity_type, source_id, metadata, \"timestamp\") "
            "values ('u2', 5, 'daily_first_activity', 'u2:2025-03-09', "
            "'{\"date\": \"2025-03-09\", \"timezone\": \"UTC\"}', '2025-03-09 10:00+00')"))
    report = independent_check.check(published, "points_ledger", T)
    assert report["mismatching"] == ["u2"] and report["out_of_scope"] == 1


def test_a_skill_achievement_whose_skill_was_assessed_again_is_left_out(published):
    # the next day at M: u3 earned first-skill with s1 (2 March); s1 is assessed again on 10 March
    # (user_skills keeps the current mastery only): the earned achievement stays a fact, the
    # current rows would date it 3 March (s2). Another learner's wrong achievement is still found.
    with published.begin() as conn:
        conn.execute(sa.text("update user_skills set last_assessed_at = '2025-03-10 09:00+00' "
                             "where user_id = 'u3' and skill_id = 's1'"))
        conn.execute(sa.text("update user_achievements set earned_at = earned_at + interval '1 second' "
                             "where user_id = 'u2' and achievement_id = 'first-course'"))
    report = independent_check.check(published, "achievements", T)
    assert report["mismatching"] == ["u2"] and report["out_of_scope"] == 1


def test_a_large_platform_checks_a_hash_sample_of_learners(published):
    # 3 users, at most 1 compared: 1 in 3, the learners whose PostgreSQL hashtext is a multiple
    # of 3: u3 alone. Corrupt u3 (inside) and u1 (outside the sample).
    with published.begin() as conn:
        conn.execute(sa.text("update user_points set current_streak = current_streak + 1 where user_id = 'u3'"))
        conn.execute(sa.text("delete from point_transactions where activity_type = 'streak_bonus'"))  # u1's
    reports = {table: independent_check.gamification_report(published, table, T, max_learners=1)
               for table in independent_check.GAMIFICATION_CHECKS}
    for table, report in reports.items():
        assert report["sample"] == {"every": 3, "learners": 3, "sampled_learners": 1,
                                    "fraction": round(1 / 3, 6)}, table
        assert report["published"] == report["independent"] == report["compared"] == 1, table
    assert reports["user_points"]["mismatching"] == ["u3"]
    assert reports["point_transactions"]["passed"]       # u1's missing bonus is outside the sample
    assert reports["user_achievements"]["passed"]
    rows = independent_check.independent_rows(published, "points_ledger", T, 3)
    assert rows["user_id"].tolist() == ["u3"] and rows["total_points"].tolist() == [5]
    # everyone (the CLI's default; a platform within the bound): u1's missing bonus is found
    assert independent_check.gamification_report(published, "point_transactions", T)["mismatching"] == ["u1"]
    assert independent_check.gamification_report(published, "point_transactions", T, 3)["sample"] is None


def test_the_scope_of_a_sample_is_the_whole_scope_within_the_sample(published):
    # u1 (outside the 1-in-3 sample) and u3 (inside) both reach back before T - 90 d: the sampled
    # scope (read for the sample only) holds u3 alone, the whole platform's both; the report of the
    # sample leaves out u3 and compares nobody else, as filtering the whole scope would
    old_awards = pd.DataFrame({"user_id": ["u1", "u3"], "points": 10, "activity_type": "content_completed",
                               "source_id": ["u1:c-old", "u3:c-old"],
                               "timestamp": pd.Timestamp("2024-11-01 10:00", tz="UTC")})
    old_awards.to_sql("point_transactions", published, if_exists="append", index=False)
    for name in CHECKS:
        whole, sampled = (independent_check.out_of_scope(published, name, T, every) for every in (1, 3))
        assert whole >= {"u1", "u3"} and sampled == {k for k in whole if k == "u3"} == {"u3"}, name
        report = independent_check.check(published, name, T, max_learners=1)
        assert report["out_of_scope"] == 1 and report["compared"] == 0 and report["passed"], name


def test_rows_arriving_late_are_awarded_by_the_next_partition(published, warehouse_url):
    # the next day at M: rows of earlier days loaded with the next day's data (updated_at on
    # 11 March): a completion and a new active day (u3, 5 March), a pass with excellence (u2,
    # 9 March), a course completion (u1, 9 March). The partition of 11 March must award them: the
    # ledger holds an award per item completed and per active day, whenever the row arrived.
    arrived = "2025-03-11 10:00+00"
    with published.begin() as conn:
        conn.execute(sa.text(
            "insert into learning_events (id, user_id, course_id, content_id, content_type, event_type, "
            "occurred_at, duration_seconds, progress_delta, updated_at) values "
            "('u3-late', 'u3', 'course-1', 'c7', 'video', 'completed', '2025-03-05 10:00+00', 60, 1, :at)"),
            {"at": arrived})
        conn.execute(sa.text(
            "insert into assessment_results (id, user_id, course_id, assessment_id, skill_id, score, "
            "passing_score, submitted_at, updated_at) values "
            "('r9', 'u2', 'course-1', 'a9', 'skill-sql', 92, 70, '2025-03-09 09:00+00', :at)"), {"at": arrived})
        conn.execute(sa.text("insert into courses (id, name) values ('course-7', 'course-7')"))
        conn.execute(sa.text(
            "insert into enrollments (id, user_id, course_id, enrolled_at, completed_at, progress_percent, "
            "status, updated_at) values ('en9', 'u1', 'course-7', '2025-01-01', '2025-03-09 12:00+00', 100, "
            "'completed', :at)"), {"at": arrived})
    run_gamification(warehouse_url, "2025-03-11")
    T2 = T + pd.Timedelta(days=1)
    late = table(published, "select source_id from point_transactions where \"timestamp\" < :t "
                            "and source_id in ('u3:c7', 'u3:2025-03-05', 'u2:a9', 'u1:course-7') "
                            "order by source_id", t=T.to_pydatetime())["source_id"].tolist()
    assert late == ["u1:course-7", "u2:a9", "u2:a9", "u3:2025-03-05", "u3:c7"]
    for name in CHECKS:
        report = independent_check.check(published, name, T2)
        assert report["passed"] and report["out_of_scope"] == 0, independent_check.summary(report)


def test_late_rows_widen_the_window_of_their_learner_only(published, warehouse_url):
    # u3's completion of 5 March arrives on 11 March. Its learner's window reaches back to 5 March:
    # the item award, the new active day and its award are made. u1 and u2 have no late rows: their
    # window stays the partition's day. Their earlier rows are therefore not read again — seen here
    # by rows removed by hand, which a window widened for everyone would restore: u1's award for c1
    # (8 March), u1's active day of 9 March and u2's first-course achievement (10 March).
    with published.begin() as conn:
        conn.execute(sa.text(
            "insert into learning_events (id, user_id, course_id, content_id, content_type, event_type, "
            "occurred_at, duration_seconds, progress_delta, updated_at) values "
            "('u3-late', 'u3', 'course-1', 'c7', 'video', 'completed', '2025-03-05 10:00+00', 60, 1, "
            "'2025-03-11 10:00+00')"))
        conn.execute(sa.text("delete from point_transactions where source_id = 'u1:c1'"))
        conn.execute(sa.text("delete from daily_activity where user_id = 'u1' and date = '2025-03-09'"))
        conn.execute(sa.text("delete from user_achievements where user_id = 'u2' and achievement_id = 'first-course'"))
    result = run_gamification(warehouse_url, "2025-03-11")
    assert metadata(result, "point_transactions")["late_learners"] == 1
    assert metadata(result, "daily_activity")["late_learners"] == 1
    achievements = metadata(result, "user_achievements")
    assert achievements["late_learners"] == 1 and achievements["candidates"] == 1  # u3 alone
    awards = table(published, "select user_id, source_id, \"timestamp\" from point_transactions "
                              "where user_id = 'u3' and \"timestamp\" < '2025-03-08' order by source_id")
    assert awards["source_id"].tolist() == ["u3:2025-03-05", "u3:c7"]
    assert (awards["timestamp"] == pd.Timestamp("2025-03-05 10:00", tz="UTC")).all()
    days = table(published, "select user_id, date::text as date from daily_activity "
                            "where date between '2025-03-05' and '2025-03-09' and user_id in ('u1', 'u3') "
                            "order by user_id, date")
    assert days.values.tolist() == [["u1", "2025-03-05"], ["u1", "2025-03-06"], ["u1", "2025-03-07"],
                                    ["u1", "2025-03-08"], ["u3", "2025-03-05"], ["u3", "2025-03-08"]]
    assert table(published, "select count(*) as n from point_transactions where source_id = 'u1:c1'")["n"][0] == 0
    assert table(published, "select count(*) as n from user_achievements "
                            "where user_id = 'u2' and achievement_id = 'first-course'")["n"][0] == 0


# ─── the three checks in one step, their awards computed once (issue 18, branch gamck2) ───

_CORRUPT = {  # table -> (a statement corrupting one published row, the learner it concerns)
    "point_transactions": ("update point_transactions set points = points + 1 "
                           "where user_id = 'u2' and activity_type = 'course_completed'", "u2"),
    "user_points": ("update user_points set current_level = current_level + 1 where user_id = 'u1'", "u1"),
    "user_achievements": ("update user_achievements set earned_at = earned_at + interval '1 second' "
                          "where user_id = 'u2' and achievement_id = 'first-course'", "u2"),
}
_UNDO = {
    "point_transactions": "update point_transactions set points = points - 1 "
                          "where user_id = 'u2' and activity_type = 'course_completed'",
    "user_points": "update user_points set current_level = current_level - 1 where user_id = 'u1'",
    "user_achievements": "update user_achievements set earned_at = earned_at - interval '1 second' "
                         "where user_id = 'u2' and achievement_id = 'first-course'",
}


def _awards_statements(engine):
    """A list collecting the awards statements (checks/gamification_awards.sql) ``engine`` runs."""
    seen = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _collect(conn, cursor, statement, parameters, context, executemany):
        if "events as materialized" in statement:
            seen.append(statement)
    return seen, lambda: sa.event.remove(engine, "before_cursor_execute", _collect)


def test_the_checks_step_reports_a_corrupted_row_on_its_own_tables_check(published, warehouse_url):
    # the step: every spec evaluated (severity WARN) after the partition's assets in their run,
    # and on its own (no partition: at the gamification's as-of, T); a corrupted row of one table
    # reported by that table's check only, with its learner
    import dagster as dg

    from analytics_pipeline.assets.gamification import GAMIFICATION_ASSETS, GAMIFICATION_ASSET_CHECKS
    from analytics_pipeline.resources import WarehouseResource

    def evaluated(result):
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert sorted(e.asset_key.to_user_string() for e in evaluations) == sorted(_CORRUPT)
        assert {e.check_name for e in evaluations} == {"independent_check"}
        assert all(e.severity == dg.AssetCheckSeverity.WARN for e in evaluations)
        return {e.asset_key.to_user_string(): e for e in evaluations}

    resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
    with_assets = dg.materialize([*GAMIFICATION_ASSETS, *GAMIFICATION_ASSET_CHECKS], partition_key="2025-03-10",
                                 resources=resources)
    assert all(e.passed for e in evaluated(with_assets).values())

    def run_checks():
        alone = dg.materialize([*GAMIFICATION_ASSETS, *GAMIFICATION_ASSET_CHECKS], resources=resources,
                               selection=dg.AssetSelection.all_asset_checks())
        assert not alone.get_asset_materialization_events()
        return evaluated(alone)

    assert all(e.passed for e in run_checks().values())
    for table_name, (corrupt, learner) in _CORRUPT.items():
        with published.begin() as conn:
            conn.execute(sa.text(corrupt))
        evaluations = run_checks()
        assert not evaluations[table_name].passed, table_name
        assert evaluations[table_name].metadata["mismatching"].value == [learner], table_name
        assert all(e.passed for name, e in evaluations.items() if name != table_name), table_name
        with published.begin() as conn:
            conn.execute(sa.text(_UNDO[table_name]))


def test_the_three_reports_share_one_awards_statement_and_equal_the_single_reports(published):
    # each table corrupted once; for everyone and for a 1-in-3 sample: the combined reports are the
    # per-table reports (seconds aside), made with one awards statement instead of three
    for corrupt, _ in _CORRUPT.values():
        with published.begin() as conn:
            conn.execute(sa.text(corrupt))
    tables = list(independent_check.GAMIFICATION_CHECKS)
    for max_learners in (None, 1):
        seen, stop = _awards_statements(published)
        try:
            together = independent_check.gamification_reports(published, tables, T, max_learners)
        finally:
            stop()
        assert len(seen) == 1, max_learners
        if max_learners is None:
            assert not any(together[t]["passed"] for t in tables)
        for t in tables:
            single = independent_check.gamification_report(published, t, T, max_learners)
            assert {k: v for k, v in together[t].items() if k != "seconds"} == \
                   {k: v for k, v in single.items() if k != "seconds"}, (t, max_learners)
    everyone = independent_check.gamification_reports(published, tables, T)
    assert {t: r["mismatching"] for t, r in everyone.items()} == {t: [u] for t, (_, u) in _CORRUPT.items()}
    # the CLI's check_all (python -m analytics_pipeline.warehouse.independent_check) shares them too
    seen, stop = _awards_statements(published)
    try:
        cli = independent_check.check_all(published, T, ["skill_demand", *CHECKS])
    finally:
        stop()
    assert len(seen) == 1 and list(cli) == ["skill_demand", *CHECKS]
    for t, name in independent_check.GAMIFICATION_CHECKS.items():
        assert {k: v for k, v in cli[name].items() if k != "seconds"} == \
               {k: v for k, v in everyone[t].items() if k != "seconds"}, name


def test_user_points_checked_at_a_later_as_of_gets_its_own_awards(published):
    # a backfill of an earlier day: user_points is checked as of the latest partition end processed
    # (here one day later), the ledger and achievements at the backfilled day's T: two awards
    # statements, each report as the single one
    later = T + pd.Timedelta(days=1)
    with published.begin() as conn:
        conn.execute(sa.text("update pipeline_settings set value = to_jsonb(cast(:v as text)) "
                             "where key = 'gamification_as_of'"), {"v": later.isoformat()})
    assert independent_check.gamification_as_of(published) == later
    tables = list(independent_check.GAMIFICATION_CHECKS)
    seen, stop = _awards_statements(published)
    try:
        together = independent_check.gamification_reports(published, tables, T)
    finally:
        stop()
    assert len(seen) == 2
    assert together["user_points"]["snapshot_instant"] == later.isoformat()
    assert together["point_transactions"]["snapshot_instant"] == T.isoformat()
    for t in tables:
        single = independent_check.gamification_report(published, t, T)
        assert {k: v for k, v in together[t].items() if k != "seconds"} == \
               {k: v for k, v in single.items() if k != "seconds"}, t


def test_a_failing_awards_statement_fails_every_report_without_raising(published):
    # the statement cancelled at its limit (1 ms): each table's report names the limit, nothing raised
    reports = independent_check.gamification_reports(published, list(independent_check.GAMIFICATION_CHECKS),
                                                     T, timeout_seconds=1e-9)
    assert all(not r["passed"] and "INDEPENDENT_CHECK_TIMEOUT_SECONDS" in r["error"] for r in reports.values())
