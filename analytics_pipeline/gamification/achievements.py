"""Achievements: the catalog (as data) and who earned what, when.

Catalog
    ``ACHIEVEMENTS``: entries ``{id, name, description, icon, tier, criteria}`` across the
    tiers beginner / intermediate / advanced / elite.  ``criteria`` maps metric keys to
    thresholds; every key must be met (several keys = all of them, earned when the last one
    is met).  The same catalog is seeded into the database by
    ``sql/migrations/0002_achievements_seed.sql`` (``achievements_seed_sql()`` renders it; a
    test checks that the file and this module agree).

Metrics (all from rows at or before T; each achievement at most once per learner)
    coursesCompleted   distinct courses whose enrollment has ``completed_at <= T``;
                       met at the ``completed_at`` of the N-th completed course.
    assessmentsPassed  distinct assessments passed (score >= passing_score); met at the
                       ``submitted_at`` of the first passing result of the N-th assessment.
    masteredSkills     skills with ``mastery_level >= AchievementRules.mastery_threshold``
                       (80) and ``last_assessed_at <= T``; met at the ``last_assessed_at`` of
                       the N-th such skill (in ``last_assessed_at`` order).  ``user_skills``
                       holds only the current mastery, so ``last_assessed_at`` is the best
                       available proxy for "when the skill reached mastery".
    streakDays         met on the N-th consecutive active day of a run, at that day's
                       ``first_activity_at`` when the daily-activity frame has it (as returned by
                       ``streaks.active_days``), else at its ``last_activity_at``.
    totalPoints        met at the ledger ``timestamp`` at which the learner's running total
                       (ledger ordered by timestamp, activity_type, source_id) first reaches N.

Vectorised: one stream per metric ``(user_id, ts, value)`` with value = running count /
sum / streak position (``cumcount`` / ``cumsum``), crossed with the catalog thresholds of that
metric; ``earned_at`` = min ``ts`` where ``value >= threshold``.
An entry with an unknown criteria key is skipped (with a warning), never awarded.
"""

from __future__ import annotations

import json
import warnings
from typing import Iterable

import pandas as pd

from .ledger import completed_courses, passed_results
from .rules import AchievementRules, _as_utc
from .streaks import streak_positions

__all__ = [
    "ACHIEVEMENTS",
    "CRITERIA_KEYS",
    "TIERS",
    "catalog_frame",
    "achievements_seed_sql",
    "earned_achievements",
]

TIERS = ("beginner", "intermediate", "advanced", "elite")
CRITERIA_KEYS = ("coursesCompleted", "streakDays", "masteredSkills", "assessmentsPassed", "totalPoints")


def _a(id, name, description, icon, tier, criteria):
    return {"id": id, "name": name, "description": description, "icon": icon, "tier": tier,
            "criteria": criteria}


ACHIEVEMENTS: tuple[dict, ...] = (
    # beginner
    _a("first-course", "First Steps", "Complete your first course", "🎓", "beginner",
       {"coursesCompleted": 1}),
    _a("first-assessment", "Test Taker", "Pass your first assessment", "✅", "beginner",
       {"assessmentsPassed": 1}),
    _a("streak-3", "Warming Up", "Learn three days in a row", "🔥", "beginner",
       {"streakDays": 3}),
    _a("first-skill", "Skill Sprout", "Master your first skill", "🌱", "beginner",
       {"masteredSkills": 1}),
    _a("points-100", "Point Collector", "Earn 100 points", "⭐", "beginner",
       {"totalPoints": 100}),
    # intermediate
    _a("week-streak", "Week Warrior", "Learn seven days in a row", "📅", "intermediate",
       {"streakDays": 7}),
    _a("course-trio", "Dedicated Learner", "Complete three courses", "📚", "intermediate",
       {"coursesCompleted": 3}),
    _a("assessment-ace", "Assessment Ace", "Pass ten assessments", "🎯", "intermediate",
       {"assessmentsPassed": 10}),
    _a("points-1000", "Point Hoarder", "Earn 1,000 points", "💎", "intermediate",
       {"totalPoints": 1000}),
    # advanced
    _a("skill-master", "Skill Master", "Master five skills", "🧠", "advanced",
       {"masteredSkills": 5}),
    _a("month-streak", "Unstoppable", "Learn thirty days in a row", "🗓️", "advanced",
       {"streakDays": 30}),
    _a("course-10", "Course Collector", "Complete ten courses", "🏅", "advanced",
       {"coursesCompleted": 10}),
    _a("assessment-50", "Exam Veteran", "Pass fifty assessments", "📝", "advanced",
       {"assessmentsPassed": 50}),
    _a("points-5000", "High Scorer", "Earn 5,000 points", "🚀", "advanced",
       {"totalPoints": 5000}),
    # elite
    _a("points-10000", "Legend", "Earn 10,000 points", "👑", "elite",
       {"totalPoints": 10000}),
    _a("streak-100", "Habit of Steel", "Learn one hundred days in a row", "⚡", "elite",
       {"streakDays": 100}),
    _a("skill-grandmaster", "Grandmaster", "Master twenty skills", "🏆", "elite",
       {"masteredSkills": 20}),
    _a("polymath", "Polymath", "Complete ten courses and master ten skills", "🦉", "elite",
       {"coursesCompleted": 10, "masteredSkills": 10}),
)

CATALOG_COLUMNS = ["id", "name", "description", "icon", "tier", "criteria"]


def catalog_frame(catalog: Iterable[dict] = ACHIEVEMENTS) -> pd.DataFrame:
    """The catalog as a DataFrame (``criteria`` holds dicts, object dtype)."""
    rows = list(catalog)
    df = pd.DataFrame({c: [r[c] for r in rows] for c in CATALOG_COLUMNS[:-1]})
    df["criteria"] = pd.Series([dict(r["criteria"]) for r in rows], dtype="object")
    return df


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def achievements_seed_sql(catalog: Iterable[dict] = ACHIEVEMENTS) -> str:
    """The text of ``sql/migrations/0002_achievements_seed.sql`` for ``catalog``."""
    values = ",\n".join(
        "  ({}, {}, {}, {}, {}, {}::jsonb)".format(
            _sql_text(a["id"]), _sql_text(a["name"]), _sql_text(a["description"]),
            _sql_text(a["icon"]), _sql_text(a["tier"]),
            _sql_text(json.dumps(a["criteria"], ensure_ascii=False)),
        )
        for a in catalog
    )
    return (
        "-- Achievements catalog. Generated from\n"
        "-- analytics_pipeline.gamification.achievements.ACHIEVEMENTS (achievements_seed_sql());\n"
        "-- tests/gamification checks that this file and the Python catalog agree.\n"
        "INSERT INTO achievements (id, name, description, icon, tier, criteria) VALUES\n"
        f"{values}\n"
        "ON CONFLICT (id) DO UPDATE SET\n"
        "  name = EXCLUDED.name,\n"
        "  description = EXCLUDED.description,\n"
        "  icon = EXCLUDED.icon,\n"
        "  tier = EXCLUDED.tier,\n"
        "  criteria = EXCLUDED.criteria;\n"
    )


# --------------------------------------------------------------------------- earning

EARNED_COLUMNS = ["user_id", "achievement_id", "earned_at"]


def _empty_earned() -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.Series(dtype="str"),
                         "achievement_id": pd.Series(dtype="str"),
                         "earned_at": pd.Series(dtype="datetime64[us, UTC]")})


def _criteria_long(catalog_df: pd.DataFrame) -> pd.DataFrame:
    """``achievement_id, key, threshold, n_keys`` — one row per criterion of each entry."""
    ids = catalog_df["id"].astype("str").tolist()
    crit = [json.loads(c) if isinstance(c, (str, bytes)) else dict(c or {})
            for c in catalog_df["criteria"].tolist()]
    rows = [(i, k, float(v), len(c)) for i, c in zip(ids, crit) for k, v in c.items()]
    long = pd.DataFrame(rows, columns=["achievement_id", "key", "threshold", "n_keys"])
    unknown = long.loc[~long["key"].isin(CRITERIA_KEYS), "achievement_id"].unique()
    if len(unknown):
        warnings.warn(f"achievements with unknown criteria keys are skipped: {sorted(unknown)}",
                      stacklevel=3)
        long = long[~long["achievement_id"].isin(unknown)]
    return long[long["n_keys"] > 0].reset_index(drop=True)


def _count_stream(df: pd.DataFrame, ts_col: str, key_cols: list[str]) -> pd.DataFrame:
    """Running count of distinct ``key_cols`` per learner in ``ts_col`` order."""
    d = df.dropna(subset=["user_id", ts_col]).sort_values([ts_col, *key_cols], kind="stable")
    d = d.drop_duplicates(["user_id", *key_cols], keep="first")
    value = d.groupby("user_id", sort=False).cumcount() + 1
    return pd.DataFrame({"user_id": d["user_id"].astype("str"), "ts": d[ts_col], "value": value})


def _streams(ledger, daily_activity, enrollments, assessment_results, user_skills, T, rules):
    streams: dict[str, pd.DataFrame] = {}
    if enrollments is not None and len(enrollments):
        e = completed_courses(enrollments, T)
        streams["coursesCompleted"] = _count_stream(e, "completed_at", ["course_id"])
    if assessment_results is not None and len(assessment_results):
        r = passed_results(assessment_results, T, once_per_item=True)
        streams["assessmentsPassed"] = _count_stream(r, "submitted_at", ["assessment_id"])
    if user_skills is not None and len(user_skills):
        s = user_skills.copy()
        s["last_assessed_at"] = pd.to_datetime(s["last_assessed_at"], utc=True)
        mastery = pd.to_numeric(s["mastery_level"], errors="coerce")
        s = s[((mastery >= rules.mastery_threshold) & (s["last_assessed_at"] <= T)).fillna(False)]
        s = s.assign(user_id=s["user_id"].astype("str"), skill_id=s["skill_id"].astype("str"))
        streams["masteredSkills"] = _count_stream(s, "last_assessed_at", ["skill_id"])
    if daily_activity is not None and len(daily_activity):
        ts_col = "first_activity_at" if "first_activity_at" in daily_activity else "last_activity_at"
        d = daily_activity[["user_id", "date", ts_col]].copy()
        d["user_id"] = d["user_id"].astype("str")
        d["date"] = pd.to_datetime(d["date"]).astype("datetime64[us]")
        d[ts_col] = pd.to_datetime(d[ts_col], utc=True)
        d = d.dropna(subset=["user_id", "date", ts_col])
        p = streak_positions(d[d[ts_col] <= T])
        streams["streakDays"] = pd.DataFrame(
            {"user_id": p["user_id"], "ts": p[ts_col], "value": p["streak_day"]})
    if ledger is not None and len(ledger):
        g = ledger[["user_id", "points", "activity_type", "source_id", "timestamp"]].copy()
        g["timestamp"] = pd.to_datetime(g["timestamp"], utc=True)
        g = g[g["timestamp"] <= T].sort_values(["timestamp", "activity_type", "source_id"],
                                               kind="stable")
        g["user_id"] = g["user_id"].astype("str")
        value = pd.to_numeric(g["points"]).fillna(0).groupby(g["user_id"], sort=False).cumsum()
        streams["totalPoints"] = pd.DataFrame(
            {"user_id": g["user_id"], "ts": g["timestamp"], "value": value})
    return streams


def earned_achievements(
    catalog_df: pd.DataFrame,
    ledger: pd.DataFrame,
    daily_activity: pd.DataFrame,
    enrollments: pd.DataFrame,
    assessment_results: pd.DataFrame,
    user_skills: pd.DataFrame,
    T,
    rules: AchievementRules = AchievementRules(),
) -> pd.DataFrame:
    """``user_id, achievement_id, earned_at`` — each achievement once per learner, at the
    instant its criteria were first (all) met, at or before T."""
    T = _as_utc(T)
    crit = _criteria_long(catalog_df)
    if crit.empty:
        return _empty_earned()
    streams = _streams(ledger, daily_activity, enrollments, assessment_results, user_skills, T,
                       rules)
    met_parts = []
    for key, stream in streams.items():  # one pass per metric (5 at most), not per learner
        thresholds = crit[crit["key"] == key]
        if thresholds.empty or stream.empty:
            continue
        met = stream.merge(thresholds, how="cross")
        met = met[met["value"] >= met["threshold"]]
        met_parts.append(
            met.groupby(["user_id", "achievement_id", "key"], as_index=False)
            .agg(ts=("ts", "min"), n_keys=("n_keys", "first"))
        )
    if not met_parts:
        return _empty_earned()
    met = pd.concat(met_parts, ignore_index=True)
    earned = met.groupby(["user_id", "achievement_id"], as_index=False).agg(
        earned_at=("ts", "max"), n_met=("key", "nunique"), n_keys=("n_keys", "first"))
    earned = earned[earned["n_met"] == earned["n_keys"]]
    earned = earned[earned["earned_at"] <= T]
    earned["user_id"] = earned["user_id"].astype("str")
    earned["achievement_id"] = earned["achievement_id"].astype("str")
    earned["earned_at"] = pd.to_datetime(earned["earned_at"], utc=True)
    earned = earned.sort_values(["earned_at", "user_id", "achievement_id"], kind="stable")
    return earned[EARNED_COLUMNS].reset_index(drop=True)
