"""Daily activity and streaks: gaps, grace day, first day, time-zone boundaries, cut-off at T."""

import pandas as pd

from analytics_pipeline.gamification import active_days, daily_activity, streaks

BERLIN = pd.Series({"u1": "Europe/Berlin"})


def _streak(frames, days, T, tz=None):
    """Streak of u1 active (once, at 12:00 UTC) on each March day in ``days``."""
    events = frames.events([(f"e{d}", "u1", "c1", "started", f"2024-03-{d:02d} 12:00") for d in days])
    out = streaks(daily_activity(events, tz, T), T, tz)
    return out.set_index("user_id").loc["u1"].tolist()


def test_daily_activity_one_row_per_learner_and_day(frames):
    events = frames.events([
        ("e1", "u1", "c1", "started", "2024-03-01 08:00"),
        ("e2", "u1", "c1", "completed", "2024-03-01 17:00"),
        ("e3", "u1", "c2", "started", "2024-03-01 09:00"),
        ("e4", "u2", "c1", "started", "2024-03-01 09:00"),
        ("e5", "u1", "c1", "started", "2024-03-03 09:00"),
    ])
    d = daily_activity(events, None, frames.T)
    assert list(d.columns) == ["user_id", "date", "last_activity_at"]
    assert d.values.tolist() == [
        ["u1", pd.Timestamp("2024-03-01"), frames.ts("2024-03-01 17:00")],
        ["u1", pd.Timestamp("2024-03-03"), frames.ts("2024-03-03 09:00")],
        ["u2", pd.Timestamp("2024-03-01"), frames.ts("2024-03-01 09:00")],
    ]
    first = active_days(events, None, frames.T)["first_activity_at"].tolist()
    assert first[0] == frames.ts("2024-03-01 08:00")


def test_gap_of_one_day_breaks_the_streak(frames):
    T = frames.ts("2024-03-05 23:59:59")
    assert _streak(frames, [1, 2, 4, 5], T) == [2, 2]
    assert _streak(frames, [1, 2, 3, 5], T) == [1, 3]
    assert _streak(frames, [1, 2, 3, 4, 5], T) == [5, 5]


def test_current_streak_counts_when_last_active_day_is_day_before_T(frames):
    assert _streak(frames, [1, 2, 3], frames.ts("2024-03-04 23:59:59")) == [3, 3]
    # two days before T: broken
    assert _streak(frames, [1, 2, 3], frames.ts("2024-03-05 23:59:59")) == [0, 3]


def test_first_active_day(frames):
    assert _streak(frames, [5], frames.ts("2024-03-05 23:59:59")) == [1, 1]


def test_events_after_T_ignored(frames):
    T = frames.ts("2024-03-05 11:00")  # the 12:00 event on 5 March is after T
    assert _streak(frames, [3, 4, 5, 6], T) == [2, 2]
    events = frames.events([("e1", "u1", "c1", "started", "2024-03-05 10:00"),
                            ("e2", "u1", "c1", "started", "2024-03-05 12:00"),
                            ("e3", "u1", "c1", "started", "2024-03-06 12:00")])
    d = daily_activity(events, None, T)
    assert d.values.tolist() == [["u1", pd.Timestamp("2024-03-05"), frames.ts("2024-03-05 10:00")]]


def test_streaks_ignore_daily_rows_after_T(frames):
    # daily_activity computed at a later T, streaks asked as of an earlier T
    events = frames.events([(f"e{d}", "u1", "c1", "started", f"2024-03-{d:02d} 12:00")
                            for d in (1, 2, 3, 6, 7)])
    later = daily_activity(events, None, frames.ts("2024-03-07 23:59:59"))
    out = streaks(later, frames.ts("2024-03-03 23:59:59"))
    assert out[["current_streak", "longest_streak"]].values.tolist() == [[3, 3]]
    # same local day as T but after T: not yet active at T
    out = streaks(later, frames.ts("2024-03-07 11:00"))
    assert out[["current_streak", "longest_streak"]].values.tolist() == [[1, 3]]


def test_timezone_boundary_changes_days_and_streak(frames):
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin
    events = frames.events([("e1", "u1", "c1", "started", "2024-03-01 23:30"),
                            ("e2", "u1", "c1", "started", "2024-03-02 10:00")])
    T = frames.ts("2024-03-02 23:00")
    utc_days = daily_activity(events, None, T)
    berlin_days = daily_activity(events, BERLIN, T)
    assert utc_days["date"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02")]
    assert berlin_days["date"].tolist() == [pd.Timestamp("2024-03-02")]
    assert berlin_days["last_activity_at"].tolist() == [frames.ts("2024-03-02 10:00")]
    assert streaks(utc_days, T)[["current_streak", "longest_streak"]].values.tolist() == [[2, 2]]
    assert streaks(berlin_days, T, BERLIN)[["current_streak", "longest_streak"]].values.tolist() == [[1, 1]]


def test_T_local_date_uses_timezone(frames):
    # T = 23:30 UTC on 3 March = 4 March in Berlin; the last active day is 2 March in both.
    T = frames.ts("2024-03-03 23:30")
    assert _streak(frames, [1, 2], T) == [2, 2]              # UTC: day before T
    assert _streak(frames, [1, 2], T, BERLIN) == [0, 2]      # Berlin: two days before T


def test_unknown_timezone_falls_back_to_utc(frames):
    events = frames.events([("e1", "u1", "c1", "started", "2024-03-01 23:30")])
    d = daily_activity(events, pd.Series({"u1": "Not/AZone"}), frames.T)
    assert d["date"].tolist() == [pd.Timestamp("2024-03-01")]
    d = daily_activity(events, pd.Series({"u1": None}), frames.T)
    assert d["date"].tolist() == [pd.Timestamp("2024-03-01")]


def test_several_learners_and_zones_at_once(frames):
    events = frames.events(
        [(f"a{d}", "a", "c1", "started", f"2024-03-{d:02d} 23:30") for d in (1, 2, 3)]
        + [(f"b{d}", "b", "c1", "started", f"2024-03-{d:02d} 12:00") for d in (1, 3)]
        + [("c1", "c", "c1", "started", "2024-03-03 23:30")]
    )
    tz = pd.Series({"a": "America/New_York", "c": "Asia/Tokyo"})
    T = frames.ts("2024-03-04 23:59:59")  # New York: 4 March, Tokyo: 5 March
    out = streaks(daily_activity(events, tz, T), T, tz).set_index("user_id")
    # a: 18:30 New York on 1, 2, 3 March → 3 days ending the day before T → 3
    # b: UTC 1 and 3 March → current 1 (3 March = day before T), longest 1
    # c: 08:30 on 4 March in Tokyo, T is 5 March in Tokyo → 1
    assert out.loc[["a", "b", "c"]].values.tolist() == [[3, 3], [1, 1], [1, 1]]


def test_no_activity_gives_empty_frame(frames):
    out = streaks(daily_activity(frames.no_events, None, frames.T), frames.T)
    assert out.empty and list(out.columns) == ["user_id", "current_streak", "longest_streak"]
