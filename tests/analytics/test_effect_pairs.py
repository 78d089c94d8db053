"""Content effectiveness: the evidence pairs and partial sums (array code, issue 18) equal a
brute-force computation of the module docstring's definition on random data."""
import itertools

import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.analytics.content_effectiveness import _item_skills, effect_parts

T = pd.Timestamp("2026-06-01T00:00:00Z")
DAY = pd.Timedelta(days=1)
WINDOW = pd.Timedelta(days=14)


def _random_platform(seed: int):
    rng = np.random.default_rng(seed)
    skills = [f"s{k}" for k in range(5)]
    items = pd.DataFrame({
        "id": [f"i{k:02d}" for k in range(14)],
        "title": [f"Item {k}" for k in range(14)],
        "content_type": [None if k == 3 else ["video", "quiz", "reading"][k % 3] for k in range(14)],
        # 0 to 3 skills per item (item i13: none), some shared
        "skill_ids": [list(rng.choice(skills, size=min(k % 4, 3), replace=False)) if k < 13 else []
                      for k in range(14)]})
    users = [f"u{k:02d}" for k in range(30)]
    n_res, n_ev = 260, 700
    res = pd.DataFrame({"user_id": rng.choice(users[:26], n_res), "skill_id": rng.choice(skills, n_res),
                        "score": rng.integers(0, 10001, n_res) / 100.0,
                        "submitted_at": T - pd.to_timedelta(rng.integers(0, 40 * 86400, n_res), unit="s")})
    ev = pd.DataFrame({"user_id": rng.choice(users, n_ev),
                       "content_id": rng.choice(list(items["id"]) + ["unknown"], n_ev),
                       "completed": rng.random(n_ev) < 0.4,
                       "occurred_at": T - pd.to_timedelta(rng.integers(0, 55 * 86400, n_ev), unit="s")})
    # boundary cases, on learners of their own (one result each, one event): an event exactly at
    # the result, exactly 14 days before it (both in the window), 1 s outside either side
    item_of = {s: items.loc[items["skill_ids"].map(lambda x, s=s: s in x), "id"].tolist() for s in skills}
    offsets = (pd.Timedelta(0), WINDOW, WINDOW + pd.Timedelta(seconds=1), -pd.Timedelta(seconds=1))
    b_res, b_ev = [], []
    for j in range(48):
        s = skills[j % len(skills)]
        if not item_of[s]:
            continue
        at = T - pd.Timedelta(days=1 + j % 5)
        b_res.append((f"b{j:02d}", s, float(j), at))
        b_ev.append((f"b{j:02d}", item_of[s][0], j % 3 > 0, at - offsets[j % 4]))
    res = pd.concat([res, pd.DataFrame(b_res, columns=res.columns)], ignore_index=True)
    ev = pd.concat([ev, pd.DataFrame(b_ev, columns=ev.columns)], ignore_index=True)
    res["submitted_at"] = res["submitted_at"].dt.tz_convert("UTC")
    return items, res.reset_index(drop=True), ev


def _brute_force(items: pd.DataFrame, res: pd.DataFrame, ev: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per result, per key tagged with its skill: used / treated, straight from the definition."""
    tags = [(i.id, i.content_type, s) for i in items.itertuples() for s in i.skill_ids]
    rows = []
    for r in res.itertuples():
        mine = ev.loc[(ev["user_id"] == r.user_id) & (ev["occurred_at"] <= r.submitted_at)
                      & (ev["occurred_at"] >= r.submitted_at - WINDOW)]
        keys = {}
        for content_id, content_type, s in tags:
            label = content_id if key == "content_id" else content_type
            if s != r.skill_id or label is None:
                continue
            hit = mine.loc[mine["content_id"] == content_id]
            if len(hit):
                keys[label] = keys.get(label, False) or bool(hit["completed"].any())
        for label, done in keys.items():
            rows.append((label, r.skill_id, r.user_id, r.score, done))
    used = pd.DataFrame(rows, columns=[key, "skill_id", "user_id", "score", "completed"])
    out = {}
    n_results = res.groupby(["user_id", "skill_id"]).size()
    for (label, s), g in used.groupby([key, "skill_id"]):
        t = g.loc[g["completed"]]
        per_learner = g.groupby("user_id").size()
        out[(label, s)] = {
            "t_sum": t["score"].sum(), "t_n": len(t), "t_learners": t["user_id"].nunique(),
            "u_sum": g["score"].sum(), "u_n": len(g),
            "no_control": int(sum(n >= n_results[(u, s)] for u, n in per_learner.items()))}
    frame = pd.DataFrame.from_dict(out, orient="index").astype(float)
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=[key, "skill_id"])
    return frame.sort_index()


@pytest.mark.parametrize("seed, key", list(itertools.product([1, 2, 3], ["content_id", "content_type"])))
def test_effect_parts_equal_the_definition(seed, key):
    items, res, ev = _random_platform(seed)
    _, item_skills = _item_skills(items)
    parts, skills = effect_parts(res, ev, item_skills, key)
    expected = _brute_force(items, res, ev, key)
    assert len(expected) > 10 and expected["t_n"].sum() > 20 and expected["no_control"].sum() > 0
    assert parts.index.tolist() == expected.index.tolist()
    counts = ["t_n", "t_learners", "u_n", "no_control"]
    pd.testing.assert_frame_equal(parts[counts], expected[counts], check_dtype=False)
    np.testing.assert_allclose(parts[["t_sum", "u_sum"]].to_numpy(),
                               expected[["t_sum", "u_sum"]].to_numpy(), rtol=0, atol=1e-9)
    by_skill = res.groupby("skill_id")["score"].agg(["sum", "size"])
    np.testing.assert_allclose(skills["s_sum"].to_numpy(), by_skill["sum"].to_numpy(), atol=1e-9)
    assert skills["s_n"].tolist() == by_skill["size"].astype(float).tolist()


def test_no_pairs():
    items, res, ev = _random_platform(1)
    _, item_skills = _item_skills(items)
    parts, _ = effect_parts(res, ev.iloc[:0], item_skills, "content_id")
    assert parts.empty and list(parts.columns) == ["t_sum", "t_n", "t_learners", "u_sum", "u_n",
                                                    "no_control"]
