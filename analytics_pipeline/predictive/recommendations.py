"""Next content and skills per learner, from skill gaps and content effectiveness.

Inputs
    ``skill_gaps``       user_id, skill_id, gap, priority (optionally skill_name) -- the
                         skill-gap analytics exploded to one row per gap;
    ``content_effects``  content_id, skill_id, effect (score points; the content-
                         effectiveness analytics; items without enough evidence are absent);
    ``content_items``    id, course_id, title, content_type, skill_ids (list);
    ``used_content``     user_id, content_id of everything the learner already used (their
                         learning events will do);
    ``learner_courses``  optional user_id, course_id (active enrollments) for the fallback;
    ``skills``           optional id, name for the skill names.

Rule
    1. The learner's top gaps: gap > 0, ordered by priority, then gap (desc), then skill_id;
       the first ``top_gaps`` (3).
    2. Effect-backed candidates: items with a measured effect > ``min_effect`` on a top-gap
       skill that the learner has not used. Ordered round-robin over the gaps: the best item
       (largest effect) of gap 1, of gap 2, of gap 3, then the second best of gap 1, ...
       Reason: ``"Closes your React gap (40 points): learners who did this scored +12 on
       React"``.
    3. Fallback (no effect known): unused items of the learner's courses (any course when
       ``learner_courses`` is not given) whose ``skill_ids`` contain a top-gap skill and that
       have no measured effect on that skill (a measured effect <= ``min_effect`` excludes
       the item), after all
       effect-backed ones, same round-robin, by title. Reason: ``"Targets your React gap (40
       points) in your course c1; no effectiveness data yet"``.
    4. An item appears once (its first place), at most ``max_items`` (5) per learner.
    ``skills``: the top ``max_skills`` gaps (skill_id, skill_name, gap, priority, reason).
    ``confidence_score`` = 100 x the share of recommended items backed by a measured effect
    (0 without items).

Output: user_id, data = ``{"content": [{"content_id", "title", "course_id", "skill_id",
"effect", "source", "reason"}...], "skills": [...]}``, confidence_score; one row per
learner with at least one gap > 0, or, when ``learners`` is given, exactly one row per id in
``learners`` (a learner without a gap gets empty lists and confidence 0; gaps of other
learners are ignored).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cache_rows import lists_by_user


@dataclass(frozen=True)
class RecommendationConfig:
    max_items: int = 5
    top_gaps: int = 3
    max_skills: int = 3
    min_effect: float = 0.0


def _points(x: pd.Series) -> pd.Series:
    return x.astype(float).round().astype("int64").astype(str)


def _top_gaps(skill_gaps: pd.DataFrame, skills: pd.DataFrame | None, config: RecommendationConfig) -> pd.DataFrame:
    g = skill_gaps.loc[pd.to_numeric(skill_gaps["gap"]).astype(float) > 0].copy()
    g["gap"] = pd.to_numeric(g["gap"]).astype(float)
    g["priority"] = pd.to_numeric(g["priority"]).astype(float)
    if "skill_name" not in g.columns:
        g["skill_name"] = pd.NA
    if skills is not None and len(skills):
        names = skills.drop_duplicates("id").set_index("id")["name"]
        g["skill_name"] = g["skill_name"].fillna(g["skill_id"].map(names))
    g["skill_name"] = g["skill_name"].fillna(g["skill_id"]).astype(str)
    g = g.sort_values(["user_id", "priority", "gap", "skill_id"], ascending=[True, False, False, True])
    g["gap_rank"] = g.groupby("user_id").cumcount()
    return g.loc[g["gap_rank"] < max(config.top_gaps, config.max_skills)].reset_index(drop=True)


def _unused(cand: pd.DataFrame, used_content: pd.DataFrame) -> pd.DataFrame:
    keys = {"user_id": str, "content_id": str}  # empty frames read from the database come back as float
    used = used_content[["user_id", "content_id"]].astype(keys).drop_duplicates().assign(_used=True)
    cand = cand.astype(keys).merge(used, on=["user_id", "content_id"], how="left")
    return cand.loc[cand["_used"].isna()].drop(columns="_used")


def _never_past(cand: pd.DataFrame, max_items: int) -> pd.DataFrame:
    """The candidates of one source (sorted, ``item_rank`` set) that can still be recommended: a
    row with at least ``max_items`` distinct items ranked before it in its (learner, gap) comes
    after the learner's first ``max_items`` distinct items (the final order is by source, then
    rank, then gap), so it is never one of them. Cut before the reasons are written."""
    first = ~cand.duplicated(["user_id", "gap_rank", "content_id"])
    before = first.groupby([cand["user_id"], cand["gap_rank"]]).cumsum() - first
    return cand.loc[(before < max_items).to_numpy(dtype=bool)].copy()


def recommend_next(
    skill_gaps: pd.DataFrame,
    content_effects: pd.DataFrame,
    content_items: pd.DataFrame,
    used_content: pd.DataFrame,
    learner_courses: pd.DataFrame | None = None,
    skills: pd.DataFrame | None = None,
    config: RecommendationConfig = RecommendationConfig(),
    learners=None,
) -> pd.DataFrame:
    gaps = _top_gaps(skill_gaps, skills, config)
    top = gaps.loc[gaps["gap_rank"] < config.top_gaps, ["user_id", "skill_id", "skill_name", "gap", "priority", "gap_rank"]]
    items = content_items.rename(columns={"id": "content_id"})[["content_id", "course_id", "title", "skill_ids"]]

    eff = content_effects.loc[pd.to_numeric(content_effects["effect"]).astype(float) > config.min_effect,
                              ["content_id", "skill_id", "effect"]].astype({"effect": float, "skill_id": str, "content_id": str})
    top = top.astype({"user_id": str, "skill_id": str})  # empty (no skills at all, e.g. an LRS alone): read as float
    by_effect = top.merge(eff, on="skill_id").merge(items.drop(columns="skill_ids"), on="content_id")
    by_effect = _unused(by_effect, used_content)
    by_effect = by_effect.sort_values(["user_id", "gap_rank", "effect", "content_id"], ascending=[True, True, False, True])
    by_effect["item_rank"] = by_effect.groupby(["user_id", "gap_rank"]).cumcount()
    by_effect = _never_past(by_effect, config.max_items)
    by_effect["source"] = "effect"
    by_effect["reason"] = (
        "Closes your " + by_effect["skill_name"] + " gap (" + _points(by_effect["gap"])
        + " points): learners who did this scored "
        + np.where(by_effect["effect"] >= 0, "+", "-") + _points(by_effect["effect"].abs())
        + " on " + by_effect["skill_name"]
    )

    item_skills = items.explode("skill_ids").rename(columns={"skill_ids": "skill_id"}).dropna(subset=["skill_id"])
    item_skills["skill_id"] = item_skills["skill_id"].astype(str)
    if learner_courses is not None:  # the learner's courses' items first: no learners x all items product
        mine = learner_courses[["user_id", "course_id"]].drop_duplicates().merge(item_skills, on="course_id")
        fb = top.merge(mine, on=["user_id", "skill_id"])
    else:
        fb = top.merge(item_skills, on="skill_id")
    fb = _unused(fb, used_content)
    measured = (content_effects[["content_id", "skill_id"]].astype(str)  # empty: read as float
                .drop_duplicates().assign(_measured=True))
    fb = fb.merge(measured, on=["content_id", "skill_id"], how="left")
    fb = fb.loc[fb["_measured"].isna()].drop(columns="_measured")  # a known (even poor) effect is not "unknown"
    fb = fb.sort_values(["user_id", "gap_rank", "title", "content_id"])
    fb["item_rank"] = fb.groupby(["user_id", "gap_rank"]).cumcount()
    fb = _never_past(fb, config.max_items)
    fb["effect"] = np.nan
    fb["source"] = "fallback"
    fb["reason"] = (
        "Targets your " + fb["skill_name"] + " gap (" + _points(fb["gap"]) + " points) in your course "
        + fb["course_id"].astype(str) + "; no effectiveness data yet"
    )

    cols = ["user_id", "content_id", "title", "course_id", "skill_id", "effect", "source", "reason",
            "gap_rank", "item_rank"]
    cand = pd.concat([by_effect[cols], fb[cols]], ignore_index=True)
    cand["source_order"] = (cand["source"] == "fallback").astype(int)
    cand = cand.sort_values(["user_id", "source_order", "item_rank", "gap_rank"], kind="stable")
    cand = cand.drop_duplicates(["user_id", "content_id"])
    cand = cand.loc[cand.groupby("user_id").cumcount() < config.max_items]

    out_cols = ["content_id", "title", "course_id", "skill_id", "effect", "source", "reason"]
    content_records = cand[out_cols].astype(object)
    content_records["effect"] = cand["effect"].round(2).astype(object).where(cand["effect"].notna(), None)
    content = lists_by_user(content_records.to_dict("records"), cand["user_id"].to_numpy())
    share = cand.assign(backed=cand["source"] == "effect").groupby("user_id")["backed"].mean()

    sk = gaps.loc[gaps["gap_rank"] < config.max_skills].copy()
    sk["reason"] = ("Raise " + sk["skill_name"] + " by " + _points(sk["gap"]) + " points to reach your course target")
    skill_records = sk[["skill_id", "skill_name", "gap", "priority", "reason"]].astype(object)
    skill_list = lists_by_user(skill_records.to_dict("records"), sk["user_id"].to_numpy())

    if learners is None:
        users = pd.Index(gaps["user_id"].unique(), name="user_id").sort_values()
    else:
        users = pd.Index(pd.unique(np.asarray(list(learners), dtype=object)).astype(str), name="user_id").sort_values()
    content = content.reindex(users)
    skill_list = skill_list.reindex(users)
    data = [
        {"content": c if isinstance(c, list) else [], "skills": s if isinstance(s, list) else []}
        for c, s in zip(content.to_numpy(), skill_list.to_numpy())
    ]
    return pd.DataFrame(
        {
            "user_id": pd.Series(users, dtype="str"),
            "data": pd.Series(data, dtype=object),
            "confidence_score": (share.reindex(users).fillna(0.0) * 100).round(2).to_numpy(dtype=float),
        }
    )
