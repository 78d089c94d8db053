"""Skill gaps (table ``skill_gap_analytics``).

Who gets a row: every learner with at least one active enrollment at ``T`` (a learner whose
courses require no skill gets ``total_gaps = 0``, ``gaps = []``, ``top_priority = None``).

For a learner and a skill ``s`` required (``course_skills``) by the course of at least one
of their active enrollments:

- ``target_s`` = the highest ``target_level`` among those courses;
- ``current_s`` = ``user_skills.mastery_level`` known at T (0 if never assessed; a row last
  assessed after T is unknown at T and counts as 0);
- ``gap_s`` = max(0, target_s - current_s);
- ``priority_s`` = gap_s x (number of distinct active courses that require s).

``total_gaps`` = number of skills with gap > 0; ``critical_gaps`` = number with gap >= 40.
``gaps`` = the skills with gap > 0 as objects
``{"skillId", "skillName", "current", "target", "gap", "priority"}`` ordered by priority
desc, then gap desc, then skill id (deterministic ties); ``top_priority`` = the first object
or ``None``. ``skillName`` is ``None`` when the skills frame does not name the skill.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import common

TABLE = "skill_gap_analytics"
COLUMNS = ["total_gaps", "critical_gaps", "gaps", "top_priority"]
GAP_KEYS = {"skill_id": "skillId", "skill_name": "skillName", "current": "current",
            "target": "target", "gap": "gap", "priority": "priority"}


@dataclass(frozen=True)
class SkillGapConfig:
    critical_gap: float = 40.0
    ttl: pd.Timedelta = common.DEFAULT_TTL


def skill_gap_table(enrollments: pd.DataFrame, course_skills: pd.DataFrame | None,
                    user_skills: pd.DataFrame | None, skills: pd.DataFrame | None,
                    T: pd.Timestamp) -> pd.DataFrame:
    """Long table, one row per (learner, required skill) with gap > 0, in priority order.

    Columns: user_id, skill_id, skill_name, current, target, gap, priority, n_courses.
    Shared with content effectiveness (recommendations for the top gaps).
    """
    T = common.utc(T)
    act = common.active_enrollments(enrollments, T).loc[:, ["user_id", "course_id"]]
    act = act.astype({"user_id": str, "course_id": str}).drop_duplicates()
    cs = common.frame_or_empty(course_skills, ["course_id", "skill_id", "target_level"])
    cs = cs.astype({"course_id": str, "skill_id": str})
    cs = cs.assign(target_level=pd.to_numeric(cs["target_level"]).astype(float).fillna(0.0))
    need = act.merge(cs, on="course_id", how="inner")
    req = need.groupby(["user_id", "skill_id"], sort=False).agg(
        target=("target_level", "max"), n_courses=("course_id", "nunique")).reset_index()
    us = common.user_skills_at(user_skills, T).astype({"user_id": str, "skill_id": str})
    us = us.groupby(["user_id", "skill_id"], sort=False)["mastery_level"].max()
    req = req.merge(us.rename("current"), how="left", left_on=["user_id", "skill_id"],
                    right_index=True)
    req["current"] = req["current"].fillna(0.0)
    req["gap"] = (req["target"] - req["current"]).clip(lower=0.0).round(2)
    req["priority"] = (req["gap"] * req["n_courses"]).round(2)
    req = req.loc[req["gap"] > 0]
    sk = common.frame_or_empty(skills, ["id", "name"])
    names = pd.Series(sk["name"].astype(object).to_numpy(), index=sk["id"].astype(str).to_numpy())
    names = names[~names.index.duplicated()]
    req["skill_name"] = req["skill_id"].map(names).astype(object)
    req = req.sort_values(["user_id", "priority", "gap", "skill_id"],
                          ascending=[True, False, False, True], kind="stable")
    return req.reset_index(drop=True)


def compute_skill_gap(enrollments: pd.DataFrame, course_skills: pd.DataFrame | None,
                      user_skills: pd.DataFrame | None, skills: pd.DataFrame | None,
                      T: pd.Timestamp, config: SkillGapConfig = SkillGapConfig()) -> pd.DataFrame:
    """One row per learner with an active enrollment at ``T`` (see module docstring)."""
    T = common.utc(T)
    learners = common.active_learners(enrollments, T)
    gaps = skill_gap_table(enrollments, course_skills, user_skills, skills, T)
    g = gaps.groupby("user_id", sort=False)
    out = pd.DataFrame(index=learners)
    out["total_gaps"] = g.size().reindex(learners).fillna(0).astype("int64")
    out["critical_gaps"] = (gaps.loc[gaps["gap"] >= config.critical_gap]
                            .groupby("user_id").size().reindex(learners).fillna(0)
                            .astype("int64"))
    recs = common.records(gaps, GAP_KEYS)
    out["gaps"] = common.per_learner(recs, gaps["user_id"], learners)
    first = common.per_learner(recs, gaps["user_id"], learners, how="first",
                               default=lambda: None)
    out["top_priority"] = first.astype(object).where(first.notna(), None)
    return common.finish(out, COLUMNS, T, config.ttl)
