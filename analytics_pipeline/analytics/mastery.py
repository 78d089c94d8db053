"""Mastery (table ``mastery_analytics``).

Who gets a row: every learner with at least one ``user_skills`` row known at ``T`` or an
active enrollment at ``T`` (the latter with zero counts and empty lists).

A ``user_skills`` row is known at T when ``last_assessed_at`` is null or ``<= T`` (the table
holds the current level; a row re-assessed after T does not tell the level at T and is left
out). Per learner, over their known skills (mastery m, 0-100):

- ``mastered_skills`` = count of m >= 80;
- ``in_progress_skills`` = count of 0 < m < 80;
- ``skills`` = ``[{"skillId", "skillName", "level", "lastAssessedAt"}]`` for every known
  skill, ordered by level desc then skill id; ``lastAssessedAt`` an ISO string or None;
- ``mastery_distribution`` = ``{"beginner": m < 30, "intermediate": 30 <= m < 70,
  "advanced": 70 <= m < 90, "expert": m >= 90}`` counts (all four keys always present).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import common

TABLE = "mastery_analytics"
COLUMNS = ["mastered_skills", "in_progress_skills", "skills", "mastery_distribution"]
SKILL_KEYS = {"skill_id": "skillId", "skill_name": "skillName", "mastery_level": "level",
              "last_assessed_at": "lastAssessedAt"}
BANDS = ["beginner", "intermediate", "advanced", "expert"]


@dataclass(frozen=True)
class MasteryConfig:
    mastered_threshold: float = 80.0
    intermediate_from: float = 30.0
    advanced_from: float = 70.0
    expert_from: float = 90.0
    ttl: pd.Timedelta = common.DEFAULT_TTL


def compute_mastery(user_skills: pd.DataFrame | None, skills: pd.DataFrame | None,
                    enrollments: pd.DataFrame | None, T: pd.Timestamp,
                    config: MasteryConfig = MasteryConfig()) -> pd.DataFrame:
    """One row per learner with known skills or an active enrollment (see module docstring)."""
    T = common.utc(T)
    cfg = config
    us = common.user_skills_at(user_skills, T).astype({"user_id": str, "skill_id": str})
    us = us.drop_duplicates(["user_id", "skill_id"], keep="last")
    learners = pd.Index(np.union1d(us["user_id"].unique().astype(object),
                                   common.active_learners(enrollments, T).to_numpy(object)),
                        name="user_id")
    m = us["mastery_level"]
    out = pd.DataFrame(index=learners)
    out["mastered_skills"] = (m >= cfg.mastered_threshold).groupby(us["user_id"]).sum() \
        .reindex(learners).fillna(0).astype("int64")
    out["in_progress_skills"] = ((m > 0) & (m < cfg.mastered_threshold)) \
        .groupby(us["user_id"]).sum().reindex(learners).fillna(0).astype("int64")

    sk = common.frame_or_empty(skills, ["id", "name"])
    names = pd.Series(sk["name"].astype(object).to_numpy(), index=sk["id"].astype(str).to_numpy())
    us = us.assign(skill_name=us["skill_id"].map(names[~names.index.duplicated()])
                   .astype(object))
    us = us.sort_values(["user_id", "mastery_level", "skill_id"],
                        ascending=[True, False, True], kind="stable")
    out["skills"] = common.per_learner(common.records(us, SKILL_KEYS), us["user_id"], learners)

    band = pd.cut(us["mastery_level"], [-np.inf, cfg.intermediate_from, cfg.advanced_from,
                                        cfg.expert_from, np.inf], right=False, labels=BANDS)
    dist = pd.crosstab(us["user_id"], band).reindex(index=learners, columns=BANDS,
                                                     fill_value=0).astype("int64")
    out["mastery_distribution"] = pd.Series(dist.to_dict("records"), index=learners,
                                            dtype=object)
    return common.finish(out, COLUMNS, T, cfg.ttl)
