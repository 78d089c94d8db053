"""Achievements: catalog shape, SQL seed agreement, earned once at the right instant."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from analytics_pipeline.gamification import (
    ACHIEVEMENTS, CRITERIA_KEYS, TIERS, achievements_seed_sql, active_days, award_points,
    catalog_frame, earned_achievements,
)

SEED = Path(__file__).resolve().parents[2] / "sql" / "migrations" / "0002_achievements_seed.sql"


def test_catalog_shape():
    assert len(ACHIEVEMENTS) >= 12
    assert {a["tier"] for a in ACHIEVEMENTS} == set(TIERS)
    ids = [a["id"] for a in ACHIEVEMENTS]
    assert len(ids) == len(set(ids))
    for a in ACHIEVEMENTS:
        assert set(a) == {"id", "name", "description", "icon", "tier", "criteria"}
        assert a["criteria"] and set(a["criteria"]) <= set(CRITERIA_KEYS)
        assert all(isinstance(v, int) and v > 0 for v in a["criteria"].values())
    by_id = {a["id"]: a["criteria"] for a in ACHIEVEMENTS}
    assert by_id["first-course"] == {"coursesCompleted": 1}
    assert by_id["week-streak"] == {"streakDays": 7}
    assert by_id["skill-master"] == {"masteredSkills": 5}
    assert by_id["assessment-ace"] == {"assessmentsPassed": 10}
    assert by_id["points-1000"] == {"totalPoints": 1000}
    assert {k for a in ACHIEVEMENTS for k in a["criteria"]} == set(CRITERIA_KEYS)


def test_sql_seed_file_is_the_generated_catalog():
    assert SEED.read_text(encoding="utf-8") == achievements_seed_sql()


def test_sql_seed_values_parse_back_to_the_catalog():
    sql = SEED.read_text(encoding="utf-8")
    assert "ON CONFLICT (id) DO UPDATE" in sql
    lit = r"'((?:[^']|'')*)'"
    row = re.compile(r"^\s*\(" + r",\s*".join([lit] * 6) + r"::jsonb\),?$", re.M)
    parsed = [
        {"id": m[0], "name": m[1], "description": m[2], "icon": m[3], "tier": m[4],
         "criteria": json.loads(m[5].replace("''", "'"))}
        for m in (tuple(g.replace("''", "'") for g in mt.groups()) for mt in row.finditer(sql))
    ]
    assert parsed == [dict(a) for a in ACHIEVEMENTS]


def _only(cat_ids):
    cat = catalog_frame()
    return cat[cat["id"].isin(cat_ids)].reset_index(drop=True)


def _earned(frames, catalog, *, ledger=None, days=None, enrollments=None, results=None,
            skills=None, T=None):
    return earned_achievements(
        catalog,
        ledger if ledger is not None else award_points(frames.no_events, frames.no_results,
                                                       frames.no_enrollments, frames.T),
        days if days is not None else active_days(frames.no_events, None, frames.T),
        enrollments if enrollments is not None else frames.no_enrollments,
        results if results is not None else frames.no_results,
        skills if skills is not None else frames.no_skills,
        T if T is not None else frames.T,
    )


def test_first_course_earned_once_at_first_completion(frames):
    enr = frames.enrollments([
        ("n2", "u1", "k2", "2024-03-05 10:00"),
        ("n1", "u1", "k1", "2024-03-02 09:00"),   # first completed course
        ("n3", "u1", "k3", "2024-03-07 10:00"),
        ("n4", "u1", "k4", None),
        ("n5", "u2", "k1", "2024-03-11 10:00"),   # after T: nothing
    ])
    out = _earned(frames, _only(["first-course", "course-trio"]), enrollments=enr)
    assert out.values.tolist() == [
        ["u1", "first-course", frames.ts("2024-03-02 09:00")],
        ["u1", "course-trio", frames.ts("2024-03-07 10:00")],
    ]


def test_assessment_ace_at_tenth_distinct_passed_assessment(frames):
    rows = [(f"r{i}", "u1", f"a{i}", 80, f"2024-03-01 {i:02d}:00") for i in range(1, 12)]
    rows += [("r2b", "u1", "a2", 90, "2024-03-01 02:30"),  # retake of a2: not a new assessment
             ("rf", "u1", "a99", 10, "2024-03-01 02:45")]  # failed
    out = _earned(frames, _only(["assessment-ace", "first-assessment"]), results=frames.results(rows))
    assert out.values.tolist() == [
        ["u1", "first-assessment", frames.ts("2024-03-01 01:00")],
        ["u1", "assessment-ace", frames.ts("2024-03-01 10:00")],
    ]
    nine = frames.results(rows[:9])
    assert _earned(frames, _only(["assessment-ace"]), results=nine).empty


def test_week_streak_on_the_seventh_consecutive_day(frames):
    events = frames.events(
        [(f"e{d}", "u1", "c1", "started", f"2024-03-0{d} 0{d}:00") for d in range(1, 9)]
        + [("late", "u1", "c1", "started", "2024-03-07 22:00")]  # later event on day 7
        + [(f"x{d}", "u2", "c1", "started", f"2024-03-0{d} 12:00") for d in (1, 2, 3, 5, 6, 7, 8)]
    )
    days = active_days(events, None, frames.T)
    out = _earned(frames, _only(["week-streak", "streak-3"]), days=days)
    assert out.values.tolist() == [
        ["u1", "streak-3", frames.ts("2024-03-03 03:00")],
        ["u2", "streak-3", frames.ts("2024-03-03 12:00")],
        ["u1", "week-streak", frames.ts("2024-03-07 07:00")],  # first activity of day 7
    ]
    # with the seed-table columns only (no first_activity_at), the day's last activity is used
    seed_cols = days[["user_id", "date", "last_activity_at"]]
    out = _earned(frames, _only(["week-streak"]), days=seed_cols)
    assert out.values.tolist() == [["u1", "week-streak", frames.ts("2024-03-07 22:00")]]


def test_skill_master_at_fifth_mastered_skill(frames):
    skills = frames.skills([
        ("u1", "s1", 80, "2024-03-05"),
        ("u1", "s2", 95, "2024-03-01"),
        ("u1", "s3", 79, "2024-03-02"),   # below mastery
        ("u1", "s4", 100, "2024-03-03"),
        ("u1", "s5", 85, "2024-03-04"),
        ("u1", "s6", 90, "2024-03-08"),
        ("u1", "s7", 90, "2024-03-06"),
        ("u1", "s8", 90, "2024-03-12"),   # assessed after T
    ])
    # mastered in time order: s2 (1st), s4, s5, s1, s7 (5th, 6 March), s6
    out = _earned(frames, _only(["skill-master", "first-skill"]), skills=skills)
    assert out.values.tolist() == [
        ["u1", "first-skill", frames.ts("2024-03-01")],
        ["u1", "skill-master", frames.ts("2024-03-06")],
    ]
    # as of 6 March 12:00 the 5th skill is s7 as well; s6/s8 (assessed later) do not count
    early = _earned(frames, _only(["skill-master"]), skills=skills, T=frames.ts("2024-03-06 12:00"))
    assert early.values.tolist() == [["u1", "skill-master", frames.ts("2024-03-06")]]


def test_total_points_when_running_total_crosses(frames):
    enr = frames.enrollments([(f"n{i:02d}", "u1", f"k{i:02d}", f"2024-02-{i:02d} 10:00")
                              for i in range(1, 12)])  # 11 × 100 points
    ledger = award_points(frames.no_events, frames.no_results, enr, frames.T)
    out = _earned(frames, _only(["points-100", "points-1000", "points-5000"]), ledger=ledger)
    assert out.values.tolist() == [
        ["u1", "points-100", frames.ts("2024-02-01 10:00")],
        ["u1", "points-1000", frames.ts("2024-02-10 10:00")],  # 10th course: 1000
    ]


def test_multi_key_criteria_need_all_keys(frames):
    enr = frames.enrollments([(f"n{i:02d}", "u1", f"k{i:02d}", f"2024-02-{i:02d} 10:00")
                              for i in range(1, 11)])
    skills = frames.skills([("u1", f"s{i}", 90, f"2024-01-{i:02d}") for i in range(1, 11)])
    out = _earned(frames, _only(["polymath"]), enrollments=enr, skills=skills)
    assert out.values.tolist() == [["u1", "polymath", frames.ts("2024-02-10 10:00")]]
    out = _earned(frames, _only(["polymath"]), enrollments=enr.iloc[:9], skills=skills)
    assert out.empty


def test_each_achievement_once_and_stable_across_T(frames):
    enr = frames.enrollments([("n1", "u1", "k1", "2024-03-02 09:00"),
                              ("n2", "u1", "k1", "2024-03-04 09:00")])  # same course again
    early = _earned(frames, catalog_frame(), enrollments=enr, T=frames.ts("2024-03-03"))
    late = _earned(frames, catalog_frame(), enrollments=enr)
    assert late.values.tolist() == [["u1", "first-course", frames.ts("2024-03-02 09:00")]]
    pd.testing.assert_frame_equal(early, late)
    assert not late.duplicated(["user_id", "achievement_id"]).any()
    # three completions of the same course are one course, not a course-trio
    same = frames.enrollments([(f"n{i}", "u1", "k1", f"2024-03-0{i} 09:00") for i in (1, 2, 3)])
    out = _earned(frames, _only(["course-trio", "first-course"]), enrollments=same)
    assert out["achievement_id"].tolist() == ["first-course"]
    assert _earned(frames, catalog_frame(), enrollments=enr, T=frames.ts("2024-03-02 08:59")).empty


def test_unknown_criteria_key_is_skipped_with_warning(frames):
    cat = pd.DataFrame([{"id": "odd", "name": "Odd", "description": "", "icon": "?",
                         "tier": "elite", "criteria": '{"coursesCompleted": 1, "moonLanding": 1}'},
                        {"id": "first-course", "name": "F", "description": "", "icon": "?",
                         "tier": "beginner", "criteria": '{"coursesCompleted": 1}'}])
    enr = frames.enrollments([("n1", "u1", "k1", "2024-03-02 09:00")])
    with pytest.warns(UserWarning, match="odd"):
        out = _earned(frames, cat, enrollments=enr)
    assert out["achievement_id"].tolist() == ["first-course"]
