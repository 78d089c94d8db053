"""Completion forecast computed by hand."""
import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.predictive.forecast import enrollment_forecasts, forecast_completion

T = pd.Timestamp("2024-06-01", tz="UTC")
W = pd.Timedelta(days=7)


def iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def frames(deltas_by_key, extra_enrollments=()):
    keys = list(deltas_by_key) + list(extra_enrollments)
    en = pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(len(keys))],
            "user_id": [k[0] for k in keys],
            "course_id": [k[1] for k in keys],
            "enrolled_at": pd.to_datetime([T - 4 * W] * len(keys), utc=True),
            "completed_at": pd.to_datetime([pd.NaT] * len(keys), utc=True),
            "withdrawn_at": pd.to_datetime([pd.NaT] * len(keys), utc=True),
            "progress_percent": 0.0,
            "status": "active",
        }
    )
    rows = [
        (u, c, T - k * W - pd.Timedelta(days=1), d)  # week k = 0 is the newest
        for (u, c), deltas in deltas_by_key.items()
        for k, d in enumerate(deltas)
    ]
    ev = pd.DataFrame(rows, columns=["user_id", "course_id", "occurred_at", "progress_delta"])
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    ev["duration_seconds"] = 60
    return ev, en


def test_sixty_percent_left_at_ten_points_a_week_is_six_weeks():
    ev, en = frames({("u1", "c1"): [10, 10, 10, 10]})
    future = pd.DataFrame({"user_id": ["u1"], "course_id": ["c1"], "occurred_at": pd.to_datetime([T + W], utc=True),
                           "progress_delta": [50.0], "duration_seconds": [60]})
    out = forecast_completion(pd.concat([ev, future], ignore_index=True), en, T)  # after-T event ignored
    [item] = out.loc[out["user_id"] == "u1", "data"].iloc[0]["enrollments"]
    assert item["progress"] == 40 and item["weekly_pace"] == 10
    assert item["expected_completion"] == iso(T + 6 * W) == "2024-07-13T00:00:00Z"
    assert item["earliest"] == item["latest"] == item["expected_completion"]  # no spread
    # confidence: 4 of 8 weeks observed, no spread -> 50
    assert out["confidence_score"].iloc[0] == 50.0


def test_interval_from_pace_spread_and_clamped_lower_bound():
    ev, en = frames({("u2", "c1"): [5, 15, 10, 10], ("u3", "c1"): [0, 0, 0, 20]})
    f = enrollment_forecasts(ev, en, T).set_index("user_id")
    std = np.sqrt((25 + 25 + 0 + 0) / 4)
    assert f.loc["u2", "spread"] == pytest.approx(std)
    ms = pd.Timedelta(milliseconds=1)
    assert abs(f.loc["u2", "earliest"] - (T + pd.Timedelta(days=7 * 60 / (10 + std)))) < ms
    assert abs(f.loc["u2", "latest"] - (T + pd.Timedelta(days=7 * 60 / (10 - std)))) < ms
    assert f.loc["u2", "expected_completion"] == T + 6 * W
    # u3: pace 5, std 8.66 > pace: the low pace is clamped to 0.25 * 5
    assert f.loc["u3", "expected_completion"] == T + pd.Timedelta(days=7 * 80 / 5)
    assert abs(f.loc["u3", "latest"] - (T + pd.Timedelta(days=7 * 80 / 1.25))) < pd.Timedelta(milliseconds=1)
    assert f.loc["u3", "confidence"] == 0.0  # spread >= pace


def test_no_pace_gives_no_date():
    ev, en = frames({("u1", "c1"): [10, 10, 10, 10]}, extra_enrollments=[("u1", "c2"), ("u5", "c1")])
    out = forecast_completion(ev, en, T).set_index("user_id")
    items = {i["course_id"]: i for i in out.loc["u1", "data"]["enrollments"]}
    assert items["c2"] == {"course_id": "c2", "expected_completion": None, "earliest": None, "latest": None,
                           "weekly_pace": 0.0, "progress": 0.0, "reason": "no pace", "deadline": None, "on_track": None}
    assert items["c1"]["reason"] is None
    assert out.loc["u1", "confidence_score"] == 25.0  # mean of 50 and 0
    assert out.loc["u5", "data"]["enrollments"][0]["reason"] == "no pace"
    assert out.loc["u5", "confidence_score"] == 0.0


def test_a_tiny_pace_gives_no_date_instead_of_overflowing():
    # 0.01 points in 4 weeks: 99.99 left / 0.0025 per week = 39,996 weeks, beyond pandas' timestamps
    ev, en = frames({("u1", "c1"): [0.01, 0.0, 0.0, 0.0]})
    f = enrollment_forecasts(ev, en, T).iloc[0]
    assert f["weekly_pace"] > 0
    assert pd.isna(f["expected_completion"]) and pd.isna(f["earliest"]) and pd.isna(f["latest"])


def test_no_date_after_the_target_or_the_course_end():
    """Pace 10/week from progress 40: expected T + 6 weeks. u1's target is T + 3 weeks, u2's
    course ends at T + 8 weeks (dates stay), u3's course ends at T + 2 weeks."""
    deltas = [10.0] * 4
    ev, en = frames({("u1", "c1"): deltas, ("u2", "c2"): deltas, ("u3", "c3"): deltas})
    en["target_completion_at"] = pd.to_datetime([T + 3 * W, pd.NaT, pd.NaT], utc=True)
    courses = pd.DataFrame({"id": ["c1", "c2", "c3"], "ends_at": pd.to_datetime([T + 52 * W, T + 8 * W, T + 2 * W], utc=True)})
    f = enrollment_forecasts(ev, en, T, courses=courses).set_index("user_id")
    assert f.loc["u2", "expected_completion"] == T + 6 * W and f.loc["u2", "on_track"] is True
    assert f.loc["u2", "deadline"] == T + 8 * W
    for u, deadline in (("u1", T + 3 * W), ("u3", T + 2 * W)):
        assert f.loc[u, "deadline"] == deadline and f.loc[u, "on_track"] is False
        assert pd.isna(f.loc[u, "expected_completion"]) and f.loc[u, "reason"] == "not by the deadline"
    dates = f[["expected_completion", "earliest", "latest"]]
    assert (dates.le(f["deadline"], axis=0) | dates.isna()).all().all()
    item = forecast_completion(ev, en, T, courses=courses).set_index("user_id")["data"]["u1"]["enrollments"][0]
    assert item["deadline"] == iso(T + 3 * W) and item["on_track"] is False and item["expected_completion"] is None
