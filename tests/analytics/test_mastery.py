"""Mastery: expected values computed by hand."""
import pandas as pd

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.mastery import compute_mastery

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
COLUMNS = ["user_id", "mastered_skills", "in_progress_skills", "skills",
           "mastery_distribution", "calculated_at", "expires_at"]
SKILLS = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "name": ["A", "B", "C", "D", "E"]})


def user_skills(rows):
    df = pd.DataFrame(rows, columns=["user_id", "skill_id", "mastery_level", "last_assessed_at"])
    df["last_assessed_at"] = pd.to_datetime(df["last_assessed_at"], utc=True)
    return df


def enrollments(users):
    return pd.DataFrame({"id": users, "user_id": users, "course_id": "c1",
                         "enrolled_at": T - DAY, "target_completion_at": pd.NaT,
                         "completed_at": pd.NaT, "withdrawn_at": pd.NaT,
                         "progress_percent": 0.0})


def test_counts_bands_and_list():
    us = user_skills([
        ("u1", "a", 0.0, None),           # beginner, not in progress
        ("u1", "b", 29.99, T - 2 * DAY),  # beginner, in progress
        ("u1", "c", 30.0, T - 3 * DAY),   # intermediate
        ("u1", "d", 80.0, T - DAY),       # advanced, mastered (>= 80)
        ("u1", "e", 90.0, T),             # expert, mastered
        ("u1", "x", 95.0, T + DAY),       # assessed after T: unknown at T
    ])
    out = compute_mastery(us, SKILLS, None, T)
    assert list(out.columns) == COLUMNS
    r = out.iloc[0]
    assert r.user_id == "u1"
    assert r.mastered_skills == 2         # 80, 90
    assert r.in_progress_skills == 2      # 29.99, 30
    assert r.mastery_distribution == {"beginner": 2, "intermediate": 1, "advanced": 1,
                                      "expert": 1}
    assert [s["skillId"] for s in r.skills] == ["e", "d", "c", "b", "a"]  # level desc
    assert r.skills[0] == {"skillId": "e", "skillName": "E", "level": 90.0,
                           "lastAssessedAt": "2025-03-29T00:00:00Z"}
    assert r.skills[-1]["lastAssessedAt"] is None
    assert r.expires_at == T + pd.Timedelta(hours=24)


def test_who_gets_a_row():
    us = user_skills([("s_only", "a", 50.0, T - DAY), ("both", "a", 69.0, T - DAY)])
    out = compute_mastery(us, SKILLS, enrollments(["both", "e_only"]), T)
    assert out["user_id"].tolist() == ["both", "e_only", "s_only"]
    e = out.set_index("user_id").loc["e_only"]
    assert (e.mastered_skills, e.in_progress_skills, e.skills) == (0, 0, [])
    assert e.mastery_distribution == {"beginner": 0, "intermediate": 0, "advanced": 0,
                                      "expert": 0}
    # 69 is intermediate (30-69), 70 would be advanced
    assert out.set_index("user_id").loc["both", "mastery_distribution"]["intermediate"] == 1
    empty = compute_mastery(us.iloc[:0], SKILLS, None, T)
    assert list(empty.columns) == COLUMNS and len(empty) == 0
    assert CATEGORIES["mastery"][1] == "mastery_analytics"
