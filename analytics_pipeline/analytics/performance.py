"""Performance (table ``performance_analytics``).

Who gets a row: every learner with an active enrollment at ``T`` **or** at least one
assessment result in the window (a learner who finished their last course still sees the
results of the last 90 days). A learner without results in the window gets
``assessments_taken = 0``, ``avg_score``, ``pass_rate`` and ``trend`` **null** (no result is
no measurement: a 0 would be averaged into the peer groups as a score) and empty JSON lists
(migration 0012 drops the seed's NOT NULL of the three columns).

Over the results submitted in ``(T-90d, T]``, ordered by (submitted_at, id):

- ``avg_score`` = mean score (0-100, 2 decimals);
- ``assessments_taken`` = number of results;
- ``pass_rate`` = **percent** (0-100, 2 decimals) of results with score >= their
  ``passing_score`` (a null ``passing_score`` uses ``default_passing_score`` = 70);
- ``trend``: least-squares slope b of score against submission order x = 0..n-1 over the
  last (up to) 10 results, b = sum((x - mean x)(y - mean y)) / sum((x - mean x)^2);
  ``improving`` if b > +1 point per assessment, ``declining`` if b < -1, else ``stable``
  (a single result: ``stable``);
- ``performance_by_skill`` = ``[{"skillId", "skillName", "avgScore", "assessments"}]`` per
  skill (results with a skill id), ordered by skill id;
- ``recent_scores`` = ``[{"score", "submittedAt", "assessmentId", "skillId"}]``, the last 10
  results, oldest first (``submittedAt`` ISO string).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import common

TABLE = "performance_analytics"
COLUMNS = ["avg_score", "trend", "assessments_taken", "pass_rate", "performance_by_skill",
           "recent_scores"]
SKILL_KEYS = {"skill_id": "skillId", "skill_name": "skillName", "avg_score": "avgScore",
              "assessments": "assessments"}
RECENT_KEYS = {"score": "score", "submitted_at": "submittedAt",
               "assessment_id": "assessmentId", "skill_id": "skillId"}


@dataclass(frozen=True)
class PerformanceConfig:
    window_days: int = 90
    trend_results: int = 10
    recent_results: int = 10
    slope_threshold: float = 1.0
    default_passing_score: float = 70.0
    ttl: pd.Timedelta = common.DEFAULT_TTL


def compute_performance(assessment_results: pd.DataFrame | None,
                        enrollments: pd.DataFrame | None, skills: pd.DataFrame | None,
                        T: pd.Timestamp, config: PerformanceConfig = PerformanceConfig()
                        ) -> pd.DataFrame:
    """One row per learner with an active enrollment or a result in the window."""
    T = common.utc(T)
    cfg = config
    r = common.until(assessment_results, "submitted_at", T,
                     ["id", "user_id", "assessment_id", "skill_id", "score", "passing_score"],
                     days=cfg.window_days)
    r = r.assign(user_id=r["user_id"].astype(str),
                 score=pd.to_numeric(r["score"]).astype(float),
                 passing_score=pd.to_numeric(r["passing_score"]).astype(float)
                 .fillna(cfg.default_passing_score))
    r = r.loc[r["score"].notna()]
    r = r.sort_values(["user_id", "submitted_at", "id"], kind="stable")
    learners = pd.Index(np.union1d(r["user_id"].unique().astype(object),
                                   common.active_learners(enrollments, T).to_numpy(object)),
                        name="user_id")
    g = r.groupby("user_id", sort=False)
    out = pd.DataFrame(index=learners)
    out["assessments_taken"] = g.size().reindex(learners).fillna(0).astype("int64")
    out["avg_score"] = common.clip_numeric(g["score"].mean().reindex(learners))
    passed = (r["score"] >= r["passing_score"]).astype(float)
    out["pass_rate"] = common.clip_numeric(
        (passed.groupby(r["user_id"]).mean() * 100.0).reindex(learners))

    # Trend: slope over the last `trend_results` results (x = order within those results).
    from_end = g.cumcount(ascending=False)
    last = r.loc[from_end < cfg.trend_results].copy()
    last["x"] = last.groupby("user_id").cumcount().astype(float)
    lg = last.groupby("user_id")
    dx = last["x"] - lg["x"].transform("mean")
    dy = last["score"] - lg["score"].transform("mean")
    num = (dx * dy).groupby(last["user_id"]).sum()
    den = (dx * dx).groupby(last["user_id"]).sum()
    # rounded so that float error cannot push an exact slope of ±1 over the threshold
    slope = (num / den.where(den > 0)).round(9).reindex(learners).fillna(0.0)
    trend = np.where(slope > cfg.slope_threshold, "improving",
                     np.where(slope < -cfg.slope_threshold, "declining", "stable")).astype(object)
    out["trend"] = np.where(out["assessments_taken"].to_numpy() > 0, trend, None)

    # performance_by_skill
    rs = r.loc[r["skill_id"].notna()].assign(skill_id=lambda x: x["skill_id"].astype(str))
    by = rs.groupby(["user_id", "skill_id"], sort=True)["score"].agg(["mean", "size"])
    by = by.reset_index().rename(columns={"mean": "avg_score", "size": "assessments"})
    by["avg_score"] = common.clip_numeric(by["avg_score"])
    sk = common.frame_or_empty(skills, ["id", "name"])
    names = pd.Series(sk["name"].astype(object).to_numpy(), index=sk["id"].astype(str).to_numpy())
    by["skill_name"] = by["skill_id"].map(names[~names.index.duplicated()]).astype(object)
    out["performance_by_skill"] = common.per_learner(common.records(by, SKILL_KEYS),
                                                     by["user_id"], learners)

    recent = r.loc[from_end < cfg.recent_results]
    out["recent_scores"] = common.per_learner(common.records(recent, RECENT_KEYS),
                                              recent["user_id"], learners)
    return common.finish(out, COLUMNS, T, cfg.ttl)
