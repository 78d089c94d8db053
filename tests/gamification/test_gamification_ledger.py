"""Points ledger: hand-computed awards, uniqueness of origins, idempotence, cut-off at T."""

import json

import pandas as pd
import pytest

from analytics_pipeline.gamification import (
    LEDGER_COLUMNS, PointRules, active_days, award_points, streaks, user_points,
)


def _hand_example(f):
    events = f.events([
        ("e1", "u1", "c1", "completed", "2024-03-08 10:00"),   # day 8: +10 content, +5 daily
        ("e2", "u1", "c2", "completed", "2024-03-08 11:00"),   # +10 content
        ("e3", "u1", "c1", "started", "2024-03-09 09:00"),     # day 9: +5 daily
        ("e4", "u1", "c2", "progressed", "2024-03-10 08:00"),  # day 10: +5 daily
        ("e5", "u1", "c1", "completed", "2024-03-10 09:00"),   # repeat completion of c1: 0
    ])
    results = f.results([
        ("r1", "u1", "a1", 95, "2024-03-09 12:00"),  # pass +25, excellence +10
        ("r2", "u1", "a2", 60, "2024-03-09 13:00"),  # failed (passing 70): 0
    ])
    enrollments = f.enrollments([("n1", "u1", "course-1", None)])  # not completed: 0
    return events, results, enrollments


def test_hand_computed_ledger_totals_and_level(frames):
    events, results, enrollments = _hand_example(frames)
    ledger = award_points(events, results, enrollments, frames.T)
    assert list(ledger.columns) == LEDGER_COLUMNS
    by_type = ledger.groupby("activity_type")["points"].agg(["sum", "count"])
    assert by_type.loc["content_completed"].tolist() == [20, 2]
    assert by_type.loc["assessment_passed"].tolist() == [25, 1]
    assert by_type.loc["assessment_excellence_bonus"].tolist() == [10, 1]
    assert by_type.loc["daily_first_activity"].tolist() == [15, 3]
    assert "course_completed" not in by_type.index and "streak_bonus" not in by_type.index
    # 2×10 + 25 + 10 + 3×5 = 70 → level 1
    days = active_days(events, None, frames.T)
    totals = user_points(ledger, streaks(days, frames.T)).set_index("user_id")
    assert totals.loc["u1", "total_points"] == 70
    assert totals.loc["u1", "current_level"] == 1
    assert totals.loc["u1", "current_streak"] == 3  # days 8, 9, 10 = T's date

    rows = ledger.set_index(["activity_type", "source_id"])
    assert rows.loc[("content_completed", "e1"), "timestamp"] == frames.ts("2024-03-08 10:00")
    assert ("content_completed", "e5") not in rows.index  # first completion of c1 only
    assert rows.loc[("assessment_passed", "r1"), "metadata"] == {
        "assessment_id": "a1", "course_id": "course-1", "score": 95, "passing_score": 70}
    daily = rows.loc[("daily_first_activity", "u1:2024-03-09")]
    assert daily["timestamp"] == frames.ts("2024-03-09 09:00")
    assert daily["metadata"] == {"date": "2024-03-09", "timezone": "UTC"}
    json.dumps(ledger["metadata"].tolist())  # JSON-serialisable


def test_course_completion_100_points_is_level_2_and_400_is_level_3(frames):
    one = frames.enrollments([("n1", "u1", "k1", "2024-03-01 10:00"),
                              ("n2", "u1", "k2", None),
                              ("n3", "u1", "k3", "2024-03-11 10:00")])  # after T: ignored
    ledger = award_points(frames.no_events, frames.no_results, one, frames.T)
    assert ledger[["activity_type", "source_id", "points"]].values.tolist() == [
        ["course_completed", "n1", 100]]
    assert ledger["timestamp"].tolist() == [frames.ts("2024-03-01 10:00")]
    empty_streaks = streaks(active_days(frames.no_events, None, frames.T), frames.T)
    assert user_points(ledger, empty_streaks)["current_level"].tolist() == [2]
    # completing the same course again (re-enrollment) earns nothing more
    again = frames.enrollments([("n1", "u1", "k1", "2024-03-01 10:00"),
                                ("n9", "u1", "k1", "2024-03-05 10:00")])
    ledger2 = award_points(frames.no_events, frames.no_results, again, frames.T)
    assert ledger2["source_id"].tolist() == ["n1"]
    four = frames.enrollments([(f"n{i}", "u1", f"k{i}", f"2024-03-0{i} 10:00") for i in range(1, 5)])
    ledger4 = award_points(frames.no_events, frames.no_results, four, frames.T)
    assert user_points(ledger4, empty_streaks)[["total_points", "current_level"]].values.tolist() == [[400, 3]]


def test_same_input_twice_identical_and_origins_unique(frames):
    events, results, enrollments = _hand_example(frames)
    results = pd.concat([results, frames.results([
        ("r3", "u1", "a1", 99, "2024-03-09 14:00"),  # retake of a passed assessment: no points
        ("r4", "u2", "a1", 90, "2024-03-09 14:00"),  # exactly 90: bonus
    ])], ignore_index=True)
    a = award_points(events, results, enrollments, frames.T)
    b = award_points(events.sample(frac=1, random_state=3), results.iloc[::-1],
                     enrollments, frames.T)
    pd.testing.assert_frame_equal(a, b)
    assert not a.duplicated(["activity_type", "source_id"]).any()
    assert set(a.loc[a["activity_type"] == "assessment_passed", "source_id"]) == {"r1", "r4"}
    assert set(a.loc[a["activity_type"] == "assessment_excellence_bonus", "source_id"]) == {"r1", "r4"}


def test_award_every_item_when_configured(frames):
    events, results, enrollments = _hand_example(frames)
    ledger = award_points(events, results, enrollments, frames.T,
                          rules=PointRules(award_once_per_item=False))
    assert set(ledger.loc[ledger["activity_type"] == "content_completed", "source_id"]) == {"e1", "e2", "e5"}


def test_events_after_T_are_ignored_and_event_at_T_counts(frames):
    T = frames.T
    events = frames.events([
        ("e1", "u1", "c1", "completed", T),
        ("e2", "u1", "c2", "completed", T + pd.Timedelta(seconds=1)),
        ("e3", "u2", "c1", "completed", T + pd.Timedelta(days=1)),
    ])
    results = frames.results([("r1", "u1", "a1", 95, T + pd.Timedelta(seconds=1))])
    ledger = award_points(events, results, frames.no_enrollments, T)
    assert sorted(zip(ledger["activity_type"], ledger["source_id"])) == [
        ("content_completed", "e1"), ("daily_first_activity", "u1:2024-03-10")]
    assert (ledger["timestamp"] <= T).all()


def test_rerun_at_later_T_never_awards_twice(frames):
    # what the database sees: INSERT ... ON CONFLICT (activity_type, source_id) DO NOTHING
    events = frames.events([(f"e{d}", "u1", f"c{d}", "completed", f"2024-03-{d:02d} 10:00")
                            for d in range(1, 10)])
    early = award_points(events, frames.no_results, frames.no_enrollments,
                         frames.ts("2024-03-05 23:59:59"))
    late = award_points(events, frames.no_results, frames.no_enrollments, frames.T)
    stored = pd.concat([early, late]).drop_duplicates(["activity_type", "source_id"], keep="first")
    assert len(stored) == len(late)
    pd.testing.assert_frame_equal(
        stored.sort_values(["timestamp", "activity_type", "source_id"]).reset_index(drop=True), late)
    assert late["points"].sum() == 9 * 10 + 9 * 5 + 50  # 9 contents, 9 days, 7th-day bonus


@pytest.mark.parametrize("n_days, bonus_days", [(6, []), (7, [7]), (8, [7]), (14, [7, 14])])
def test_streak_bonus_every_7th_consecutive_day(frames, n_days, bonus_days):
    events = frames.events([(f"e{d}", "u1", "c1", "started", f"2024-02-{d:02d} 08:{d:02d}")
                            for d in range(1, n_days + 1)])
    ledger = award_points(events, frames.no_results, frames.no_enrollments, frames.T)
    bonus = ledger[ledger["activity_type"] == "streak_bonus"]
    assert bonus["source_id"].tolist() == [f"u1:2024-02-{d:02d}" for d in bonus_days]
    assert bonus["points"].tolist() == [50] * len(bonus_days)
    assert bonus["timestamp"].tolist() == [frames.ts(f"2024-02-{d:02d} 08:{d:02d}") for d in bonus_days]
    assert [m["streak_day"] for m in bonus["metadata"]] == bonus_days


def test_streak_bonus_needs_consecutive_days(frames):
    days = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]  # 6 + gap + 6: no 7th day
    events = frames.events([(f"e{d}", "u1", "c1", "started", f"2024-02-{d:02d} 08:00") for d in days])
    ledger = award_points(events, frames.no_results, frames.no_enrollments, frames.T)
    assert (ledger["activity_type"] == "streak_bonus").sum() == 0
    assert (ledger["activity_type"] == "daily_first_activity").sum() == 12


def test_daily_award_uses_organisation_timezone(frames):
    events = frames.events([("e1", "u1", "c1", "started", "2024-03-01 23:30"),
                            ("e2", "u1", "c1", "started", "2024-03-02 10:00")])
    utc = award_points(events, frames.no_results, frames.no_enrollments, frames.T)
    berlin = award_points(events, frames.no_results, frames.no_enrollments, frames.T,
                          pd.Series({"u1": "Europe/Berlin"}))
    assert utc["source_id"].tolist() == ["u1:2024-03-01", "u1:2024-03-02"]
    assert berlin["source_id"].tolist() == ["u1:2024-03-02"]  # 23:30 UTC = 00:30 in Berlin
    assert berlin["timestamp"].tolist() == [frames.ts("2024-03-01 23:30")]
    assert berlin["metadata"].tolist() == [{"date": "2024-03-02", "timezone": "Europe/Berlin"}]


def test_empty_inputs_give_empty_ledger(frames):
    ledger = award_points(frames.no_events, frames.no_results, frames.no_enrollments, frames.T)
    assert ledger.empty and list(ledger.columns) == LEDGER_COLUMNS
