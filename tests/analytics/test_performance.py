"""Performance: expected values computed by hand."""
import pandas as pd
import pytest

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.performance import compute_performance

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
COLUMNS = ["user_id", "avg_score", "trend", "assessments_taken", "pass_rate",
           "performance_by_skill", "recent_scores", "calculated_at", "expires_at"]
SKILLS = pd.DataFrame({"id": ["s1", "s2"], "name": ["SQL", "Python"]})


def results(rows):
    df = pd.DataFrame(rows, columns=["user_id", "skill_id", "score", "passing_score",
                                     "submitted_at"])
    df["id"] = [f"r{i:02d}" for i in range(len(df))]
    df["assessment_id"] = [f"a{i:02d}" for i in range(len(df))]
    df["course_id"] = "c1"
    df["submitted_at"] = pd.to_datetime(df["submitted_at"], utc=True)
    return df


def enrollments(users):
    return pd.DataFrame({"id": users, "user_id": users, "course_id": "c1",
                         "enrolled_at": T - 100 * DAY, "target_completion_at": pd.NaT,
                         "completed_at": pd.NaT, "withdrawn_at": pd.NaT,
                         "progress_percent": 0.0})


def test_average_pass_rate_by_skill_recent_and_window():
    res = results([
        ("u1", "s1", 90.0, 60.0, T + DAY),         # after T: ignored
        ("u1", "s2", 70.0, None, T - 3 * DAY),     # null passing score -> 70: passed
        ("u1", "s1", 50.0, 60.0, T - 5 * DAY),     # failed (listed late)
        ("u1", "s1", 60.0, 60.0, T - 4 * DAY),     # passed (score == passing)
        ("u1", "s1", 10.0, 60.0, T - 90 * DAY),    # exactly 90 days before T: outside
        ("u1", None, 100.0, 60.0, T - 2 * DAY),    # passed, no skill
    ])
    out = compute_performance(res, enrollments(["u1"]), SKILLS, T)
    assert list(out.columns) == COLUMNS
    r = out.iloc[0]
    assert r.assessments_taken == 4
    assert r.avg_score == pytest.approx((50 + 60 + 70 + 100) / 4)   # 70
    assert r.pass_rate == pytest.approx(3 / 4 * 100)                # percent
    assert r.performance_by_skill == [
        {"skillId": "s1", "skillName": "SQL", "avgScore": (50 + 60) / 2, "assessments": 2},
        {"skillId": "s2", "skillName": "Python", "avgScore": 70.0, "assessments": 1},
    ]
    assert [s["score"] for s in r.recent_scores] == [50.0, 60.0, 70.0, 100.0]  # oldest first
    assert r.recent_scores[0] == {"score": 50.0, "submittedAt": "2025-03-24T00:00:00Z",
                                  "assessmentId": "a02", "skillId": "s1"}
    assert r.recent_scores[-1]["skillId"] is None
    # slope of 50, 60, 70, 100 against 0..3: x mean 1.5, y mean 70,
    # sum dx*dy = (-1.5)(-20) + (-0.5)(-10) + (0.5)(0) + (1.5)(30) = 80, sum dx^2 = 5 -> 16
    assert r.trend == "improving"
    assert r.expires_at - r.calculated_at == pd.Timedelta(hours=24)


def test_trend_uses_last_ten_and_threshold():
    # 12 results: first two 0 then ten equal scores -> slope over the last ten is 0
    rows = [("u1", "s1", 0.0, 50.0, T - (30 - i) * DAY) for i in range(2)]
    rows += [("u1", "s1", 80.0, 50.0, T - (20 - i) * DAY) for i in range(10)]
    # u2: 80, 79, 78 -> slope -1 (not below -1): stable; u3: 80, 78, 76 -> -2: declining
    rows += [("u2", "s1", 80.0 - i, 50.0, T - (10 - i) * DAY) for i in range(3)]
    rows += [("u3", "s1", 80.0 - 2 * i, 50.0, T - (10 - i) * DAY) for i in range(3)]
    out = compute_performance(results(rows), None, SKILLS, T).set_index("user_id")
    assert out.loc["u1", "trend"] == "stable"
    assert out.loc["u1", "assessments_taken"] == 12
    assert len(out.loc["u1", "recent_scores"]) == 10
    assert out.loc["u1", "recent_scores"][0]["score"] == 80.0
    assert out.loc["u2", "trend"] == "stable"
    assert out.loc["u3", "trend"] == "declining"


def test_single_result_ties_and_no_results():
    res = results([
        ("one", "s1", 40.0, 50.0, T - DAY),
        # same timestamp: ordered by result id, not by listing order
        ("tie", "s1", 60.0, 50.0, T - DAY),
        ("tie", "s1", 90.0, 50.0, T - DAY),
    ])
    res.loc[2, "id"] = "r00b"  # the 90 now sorts first -> 90 then 60
    out = compute_performance(res, enrollments(["one", "none"]), SKILLS, T)
    out = out.set_index("user_id")
    assert sorted(out.index) == ["none", "one", "tie"]   # results-only learner included
    one = out.loc["one"]
    assert (one.assessments_taken, one.avg_score, one.pass_rate, one.trend) == \
        (1, 40.0, 0.0, "stable")
    tie = out.loc["tie"]
    assert [s["score"] for s in tie.recent_scores] == [90.0, 60.0]
    assert tie.trend == "declining"  # slope (60 - 90) / 1 = -30
    none = out.loc["none"]
    # no result: no measurement (issue 15, defect 1: 0 was averaged into the peer groups)
    assert none.assessments_taken == 0
    assert pd.isna(none.avg_score) and pd.isna(none.pass_rate) and pd.isna(none.trend)
    assert none.performance_by_skill == [] and none.recent_scores == []
    empty = compute_performance(res.iloc[:0], None, SKILLS, T)
    assert list(empty.columns) == COLUMNS and len(empty) == 0
    assert CATEGORIES["performance"][1] == "performance_analytics"
