"""Content effectiveness' learner rows (the second pass, on integer codes) against a per-learner
brute force of the definition (module docstring), given the effects (``precomputed_effects``).

Random platforms with effects from a few values (ties broken by id), items and types with and
without an effect, events outside W / after T / on items unknown to the catalog / of learners
without an active enrollment, learners with no item effect (type fallback), several gaps whose
skills share positive items (an item is recommended once, for its first gap), titles missing.
"""
import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.analytics.content_effectiveness import (
    ContentEffectivenessConfig, compute_content_effectiveness, effect_text)
from analytics_pipeline.analytics.skill_gap import skill_gap_table

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
CFG = ContentEffectivenessConfig(candidate_items_per_skill=4)
TYPES = ["video", "reading", "quiz", "exercise", None]


def platform(seed: int):
    rng = np.random.default_rng(seed)
    n_items, n_learners, n_skills = 30, 40, 6
    skills = [f"s{k}" for k in range(n_skills)]
    items = pd.DataFrame({
        "id": [f"i{j:02d}" for j in range(n_items)], "course_id": "c1",
        "title": [None if rng.random() < 0.2 else f"Item {j}" for j in range(n_items)],
        "content_type": [TYPES[rng.integers(len(TYPES))] for _ in range(n_items)],
        "skill_ids": [list(rng.choice(skills, rng.integers(0, 3), replace=False))
                      for _ in range(n_items)]})
    learners = [f"L{i:02d}" for i in range(n_learners)]
    enrolled = [u for u in learners if rng.random() < 0.85]
    enr = pd.DataFrame({"id": enrolled, "user_id": enrolled, "course_id": "c1",
                        "enrolled_at": T - 60 * DAY, "target_completion_at": pd.NaT,
                        "completed_at": pd.NaT, "withdrawn_at": pd.NaT, "progress_percent": 0.0})
    n_ev = 400
    ev = pd.DataFrame({
        "user_id": rng.choice(learners, n_ev),
        "content_id": rng.choice([*items["id"], "unknown1", "unknown2"], n_ev),
        "event_type": rng.choice(["started", "completed"], n_ev),
        "occurred_at": T - pd.to_timedelta(rng.integers(-3 * 86400, 60 * 86400, n_ev), unit="s")})
    values = [-3.0, -1.5, 0.0, 1.25, 1.25, 2.0, 4.5]
    tags = items[["id", "skill_ids"]].explode("skill_ids").dropna()
    tags = tags.loc[rng.random(len(tags)) < 0.8]
    item_eff = pd.DataFrame({"content_id": tags["id"].to_numpy(), "skill_id": tags["skill_ids"].to_numpy(),
                             "effect": rng.choice(values, len(tags)), "n_treated": 10.0,
                             "n_control": 10.0})
    known = [t for t in TYPES if t is not None]
    type_eff = pd.DataFrame({"content_type": np.repeat(known, 2), "skill_id": skills[:2] * len(known),
                             "effect": rng.choice(values, 2 * len(known)), "n_treated": 10.0,
                             "n_control": 10.0})
    type_eff = type_eff.loc[type_eff["content_type"] != "exercise"]
    cs = pd.DataFrame({"course_id": "c1", "skill_id": skills, "target_level": 90})
    us = pd.DataFrame({"user_id": rng.choice(learners, 60), "skill_id": rng.choice(skills, 60),
                       "mastery_level": rng.integers(0, 100, 60).astype(float),
                       "last_assessed_at": T - 5 * DAY})
    sk = pd.DataFrame({"id": skills, "name": [None, *[f"Skill {k}" for k in range(1, n_skills)]]})
    return enr, items, ev, cs, us, sk, item_eff, type_eff


def brute(enr, items, ev, cs, us, sk, item_eff, type_eff, cfg):
    """The definition, one learner at a time."""
    cat = items.set_index("id")
    per_item = item_eff.groupby("content_id")["effect"].mean().round(9).to_dict()
    per_type = type_eff.groupby("content_type")["effect"].mean().round(9).to_dict()
    pos = item_eff.loc[item_eff["effect"] > 0].sort_values(
        ["skill_id", "effect", "content_id"], ascending=[True, False, True])
    pos = pos.loc[pos.groupby("skill_id").cumcount() < cfg.candidate_items_per_skill]
    gaps = skill_gap_table(enr, cs, us, sk, T)
    rows = {}
    for u in sorted(set(enr["user_id"])):
        mine = ev.loc[(ev["user_id"] == u) & (ev["occurred_at"] <= T)]
        in_w = set(mine.loc[mine["occurred_at"] > T - cfg.window_days * DAY, "content_id"])
        cand = [(per_item[c], c) for c in in_w if c in per_item]
        if cand:
            def entry(e, c):
                title, kind = cat.at[c, "title"], cat.at[c, "content_type"]
                return {"kind": "item", "contentId": c, "title": None if pd.isna(title) else title,
                        "contentType": None if pd.isna(kind) else kind, "effect": round(e, 2)}
        else:
            kinds = {cat.at[c, "content_type"] for c in in_w if c in cat.index}
            cand = [(per_type[t], t) for t in kinds if t is not None and t in per_type]

            def entry(e, t):
                return {"kind": "type", "contentType": t, "effect": round(e, 2)}
        most = sorted(cand, key=lambda x: (-x[0], x[1]))[:cfg.max_items]
        rest = sorted(set(cand) - set(most), key=lambda x: (x[0], x[1]))[:cfg.max_items]
        ever = set(mine["content_id"])
        recs, taken, done = [], set(), set()
        tops = gaps.loc[gaps["user_id"] == u].head(cfg.top_gaps)
        offers = [(rank, e, c, s, name) for rank, (s, name) in enumerate(zip(tops["skill_id"], tops["skill_name"]))
                  for c, e in zip(*pos.loc[pos["skill_id"] == s, ["content_id", "effect"]].T.to_numpy())
                  if c not in ever]
        first_gap = {}
        for rank, e, c, s, name in sorted(offers, key=lambda x: (x[0], -x[1], x[2])):
            first_gap.setdefault(c, rank)
        for rank, e, c, s, name in sorted(offers, key=lambda x: (x[0], -x[1], x[2])):
            if first_gap[c] != rank or rank in done or len(recs) == cfg.max_recommendations:
                continue
            done.add(rank)
            label = s if name is None or pd.isna(name) else name
            title = cat.at[c, "title"]
            kind = cat.at[c, "content_type"]
            recs.append(f"Try '{c if pd.isna(title) else title}' ({'content' if pd.isna(kind) else kind}) "
                        f"for {label}: learners who completed it scored "
                        f"{effect_text(pd.Series([e])).iloc[0]} points higher on {label} "
                        f"assessments within {cfg.effect_window_days} days.")
        rows[u] = ([entry(*x) for x in most], [entry(*x) for x in rest], recs)
    return rows


SEEDS = range(8)
SEEN: dict[str, int] = {"item": 0, "type": 0, "recommendations": 0}


@pytest.mark.parametrize("seed", SEEDS)
def test_learner_rows_equal_the_definition(seed):
    enr, items, ev, cs, us, sk, item_eff, type_eff = platform(seed)
    out = compute_content_effectiveness(enr, items, ev, None, cs, us, sk, T, CFG,
                                        precomputed_effects=(item_eff, type_eff))
    expected = brute(enr, items, ev, cs, us, sk, item_eff, type_eff, CFG)
    assert list(out["user_id"]) == sorted(expected)
    for u, most, least, recs in out[["user_id", "most_effective", "least_effective",
                                     "recommendations"]].itertuples(index=False):
        assert (most, least, recs) == expected[u], u
        for e in most:
            SEEN[e["kind"]] += 1
        SEEN["recommendations"] += len(recs)


def test_the_platforms_exercise_items_types_and_recommendations():
    """Runs after the seeds: both kinds of entries and recommendations were compared."""
    for seed in SEEDS:
        if not all(SEEN.values()):
            test_learner_rows_equal_the_definition(seed)
    assert all(SEEN.values()), SEEN
