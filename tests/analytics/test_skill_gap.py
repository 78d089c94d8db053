"""Skill gaps: expected values computed by hand."""
import pandas as pd

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.skill_gap import SkillGapConfig, compute_skill_gap

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
COLUMNS = ["user_id", "total_gaps", "critical_gaps", "gaps", "top_priority", "calculated_at",
           "expires_at"]


def enrollments(rows):
    df = pd.DataFrame(rows, columns=["user_id", "course_id", "completed_at"])
    df["id"] = df["user_id"] + ":" + df["course_id"]
    df["enrolled_at"] = T - 30 * DAY
    df["completed_at"] = pd.to_datetime(df["completed_at"], utc=True)
    df["withdrawn_at"] = pd.NaT
    df["target_completion_at"] = pd.NaT
    df["progress_percent"] = 0.0
    return df


COURSE_SKILLS = pd.DataFrame({
    "course_id": ["c1", "c1", "c2", "c2", "c3"],
    "skill_id": ["py", "sql", "py", "viz", "ml"],
    "target_level": [60, 50, 80, 70, 90],
})
SKILLS = pd.DataFrame({"id": ["py", "sql", "viz", "ml"],
                       "name": ["Python", "SQL", "Charts", "ML"]})


def user_skills(rows):
    df = pd.DataFrame(rows, columns=["user_id", "skill_id", "mastery_level", "last_assessed_at"])
    df["last_assessed_at"] = pd.to_datetime(df["last_assessed_at"], utc=True)
    df["id"] = df["user_id"] + ":" + df["skill_id"]
    return df


def run(enr, us, config=SkillGapConfig()):
    return compute_skill_gap(enr, COURSE_SKILLS, us, SKILLS, T, config)


def test_targets_gaps_priorities_and_order():
    enr = enrollments([("u1", "c1", None), ("u1", "c2", None),
                       ("u1", "c3", T - DAY)])  # c3 completed before T: not required
    us = user_skills([
        ("u1", "py", 30.0, T - 5 * DAY),
        ("u1", "viz", 75.0, T - 5 * DAY),      # above target 70: no gap
        ("u1", "sql", 45.0, T + DAY),          # assessed after T: unknown at T -> 0
    ])
    out = run(enr, us)
    assert list(out.columns) == COLUMNS
    r = out.set_index("user_id").loc["u1"]
    # py: target max(60, 80) = 80, gap 80 - 30 = 50, needed by c1 and c2 -> priority 50 * 2
    # sql: target 50, level 0 (row after T ignored), gap 50, one course -> priority 50
    # viz: max(0, 70 - 75) = 0 -> not listed
    assert r.gaps == [
        {"skillId": "py", "skillName": "Python", "current": 30.0, "target": 80.0,
         "gap": 50.0, "priority": 100.0},
        {"skillId": "sql", "skillName": "SQL", "current": 0.0, "target": 50.0,
         "gap": 50.0, "priority": 50.0},
    ]
    assert r.total_gaps == 2
    assert r.critical_gaps == 2  # both gaps >= 40
    assert r.top_priority == r.gaps[0]


def test_critical_threshold_ties_and_config():
    enr = enrollments([("u2", "c1", None)])
    # py: 60 - 21 = 39 (not critical), sql: 50 - 10 = 40 (critical: >= 40)
    us = user_skills([("u2", "py", 21.0, T - DAY), ("u2", "sql", 10.0, T - DAY)])
    r = run(enr, us).set_index("user_id").loc["u2"]
    assert (r.total_gaps, r.critical_gaps) == (2, 1)
    assert [g["skillId"] for g in r.gaps] == ["sql", "py"]  # priority 40 > 39
    r = run(enr, us, SkillGapConfig(critical_gap=39)).set_index("user_id").loc["u2"]
    assert r.critical_gaps == 2
    # tie: equal priority and gap -> ordered by skill id
    us = user_skills([("u2", "py", 20.0, T - DAY), ("u2", "sql", 10.0, T - DAY)])
    r = run(enr, us).set_index("user_id").loc["u2"]
    assert [(g["skillId"], g["priority"]) for g in r.gaps] == [("py", 40.0), ("sql", 40.0)]


def test_no_gap_and_no_enrollment():
    enr = enrollments([("full", "c1", None), ("old", "c1", T - DAY)])
    us = user_skills([("full", "py", 100.0, T - DAY), ("full", "sql", 60.0, T - DAY)])
    out = run(enr, us)
    assert out["user_id"].tolist() == ["full"]  # "old" has no active enrollment
    r = out.iloc[0]
    assert (r.total_gaps, r.critical_gaps, r.gaps, r.top_priority) == (0, 0, [], None)
    assert r.expires_at - r.calculated_at == pd.Timedelta(hours=24)
    empty = run(enr.iloc[:0], us)
    assert list(empty.columns) == COLUMNS and len(empty) == 0
    assert CATEGORIES["skill_gap"][1] == "skill_gap_analytics"
