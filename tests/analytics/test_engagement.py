"""Engagement: expected values computed by hand."""
import math

import pandas as pd

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.engagement import EngagementConfig, compute_engagement

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
MIN = pd.Timedelta(minutes=1)
COLUMNS = ["user_id", "overall_score", "trend", "sessions_per_week", "avg_session_duration",
           "last_active", "engagement_by_type", "weekly_trend", "calculated_at", "expires_at"]


def score(freq, minutes, days_since, n_types):
    """The design formula, by hand: 100 x (0.35 F + 0.25 D + 0.25 R + 0.15 B), half up."""
    r = 0.0 if days_since is None else 0.5 ** (days_since / 7)
    raw = 100 * (0.35 * min(freq / 5, 1) + 0.25 * min(minutes / 60, 1) + 0.25 * r
                 + 0.15 * min(n_types / 5, 1))
    return math.floor(raw + 0.5)


def enrollments(users):
    return pd.DataFrame({"id": users, "user_id": users, "course_id": "c1",
                         "enrolled_at": T - 60 * DAY, "target_completion_at": pd.NaT,
                         "completed_at": pd.NaT, "withdrawn_at": pd.NaT,
                         "progress_percent": 0.0})


def events(rows):
    df = pd.DataFrame(rows, columns=["user_id", "occurred_at", "duration_seconds",
                                     "content_type"])
    df["id"] = [f"e{i}" for i in range(len(df))]
    df["occurred_at"] = pd.to_datetime(df["occurred_at"], utc=True)
    df["course_id"] = "c1"
    df["event_type"] = "progressed"
    return df


T0 = T - 2 * DAY
EVENTS = events([
    ("u1", T + 60 * MIN, 9999, "project"),    # after T: ignored
    ("u1", T0 + 30 * MIN, 600, "quiz"),       # exactly 30 min after the first: same session
    ("u1", T0, 60, "video"),
    ("u1", T0 + 61 * MIN, None, None),        # 31 min after the previous: new session
    ("u1", T - 40 * DAY, 120, "video"),       # week 5 (40 days before T), outside W
    ("fall", T - 20 * DAY, 3600, "video"),    # week 2 only
    ("stranger", T - DAY, 60, "video"),       # no active enrollment: no row
])


def test_window_values_sessions_and_score():
    out = compute_engagement(enrollments(["u1", "fall", "idle"]), EVENTS, T)
    assert list(out.columns) == COLUMNS
    assert sorted(out["user_id"]) == ["fall", "idle", "u1"]
    r = out.set_index("user_id").loc["u1"]
    # sessions in W: [T0, T0+30m] lasting 30 min + 600 s = 40 min, and [T0+61m] lasting 0
    assert r.sessions_per_week == 2 / 4
    assert r.avg_session_duration == (40 + 0) / 2
    assert r.last_active == T0 + 61 * MIN
    assert r.engagement_by_type == {"video": round(60 / 660, 4), "quiz": round(600 / 660, 4)}
    days = (2 * 24 * 60 - 61) / (24 * 60)
    assert r.overall_score == score(2 / 4, 20, days, 2)


def test_weekly_trend_and_trend_rule():
    out = compute_engagement(enrollments(["u1", "fall", "idle"]), EVENTS, T).set_index(
        "user_id")
    w0 = score(2, 20, (2 * 24 * 60 - 61) / (24 * 60), 2)  # this week: 2 sessions
    w5 = score(1, 2, 40 - 35, 1)                           # 120 s session, end of week 5
    w4, w3, w2, w1 = (score(0, 0, 40 - 7 * k, 0) for k in (4, 3, 2, 1))  # recency only
    assert out.loc["u1", "weekly_trend"] == [0, 0, w5, w4, w3, w2, w1, w0]
    # last two weeks vs the two before: (w1 + w0) against (w3 + w2)
    assert (w1 + w0) > 1.1 * (w3 + w2)
    assert out.loc["u1", "trend"] == "rising"
    f2 = score(1, 60, 20 - 14, 1)
    f1, f0 = score(0, 0, 20 - 7, 0), score(0, 0, 20, 0)
    assert out.loc["fall", "weekly_trend"] == [0, 0, 0, 0, 0, f2, f1, f0]
    assert (f1 + f0) < 0.9 * (0 + f2)
    assert out.loc["fall", "trend"] == "falling"
    assert out.loc["fall", "sessions_per_week"] == 1 / 4
    assert out.loc["fall", "avg_session_duration"] == 60


def test_no_events_and_session_gap_config():
    out = compute_engagement(enrollments(["idle"]), EVENTS, T).set_index("user_id")
    r = out.loc["idle"]
    assert (r.overall_score, r.trend, r.sessions_per_week, r.avg_session_duration) == \
        (0, "stable", 0.0, 0)
    # no event ever: no last activity (issue 15, defect 3: it was the enrollment time)
    assert pd.isna(r.last_active)
    assert r.engagement_by_type == {} and r.weekly_trend == [0] * 8
    assert r.expires_at == r.calculated_at + pd.Timedelta(hours=24)
    # a 29-minute gap rule splits u1's first two events (30 min apart) as well
    out = compute_engagement(enrollments(["u1"]), EVENTS, T,
                             EngagementConfig(session_gap_minutes=29)).set_index("user_id")
    assert out.loc["u1", "sessions_per_week"] == 3 / 4
    assert out.loc["u1", "avg_session_duration"] == round((1 + 10 + 0) / 3)


def test_no_enrollments():
    out = compute_engagement(enrollments(["x"]).iloc[:0], EVENTS, T)
    assert list(out.columns) == COLUMNS and len(out) == 0
    assert CATEGORIES["engagement"][1] == "engagement_analytics"


def test_a_mean_of_exactly_half_a_minute_rounds_up_whatever_the_summation_order():
    # three one-event sessions in W, in time order 816 s, 869 s, 3265 s: mean 4950 / 3 = 1650 s
    # = 27.5 min -> 28 (half up). Summed as minutes (13.6 + 14.48… + 54.41…) the mean is
    # 27.499999999999996 in this order and was published as 27 (found by the independent
    # check on the S platform, where SQL and pandas summed in different orders).
    rows = [("u1", T - 3 * DAY, 816, "video"), ("u1", T - 2 * DAY, 869, "video"),
            ("u1", T - 1 * DAY, 3265, "video")]
    r = compute_engagement(enrollments(["u1"]), events(rows), T).set_index("user_id").loc["u1"]
    assert r.avg_session_duration == 28
    assert r.sessions_per_week == 3 / 4
    assert r.overall_score == score(3 / 4, 28, 1, 1)
    assert r.weekly_trend[-1] == score(3, 28, 1, 1)  # week 0: the same three sessions
