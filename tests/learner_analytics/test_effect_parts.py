"""Content effectiveness by chunks: summed partial sums give the one-pass effects and rows."""
import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.analytics.content_effectiveness import (
    ContentEffectivenessConfig, combine_effect_parts, compute_content_effectiveness,
    effect_parts_of, effect_tables, latest_use)
from tests.analytics import test_content_effectiveness as pure


def test_chunked_effects_equal_one_pass():
    enr, ev, res, cs, skills = pure.fixture()
    cfg = ContentEffectivenessConfig()
    whole = compute_content_effectiveness(enr, pure.ITEMS, ev, res, cs, None, skills, pure.T, cfg)
    # three learner chunks (disjoint): L00..L07, L08..L15, L16..L25
    groups = np.array([int(u[1:]) // 8 if int(u[1:]) < 16 else 2 for u in pure.L])
    chunk_of = dict(zip(pure.L, groups))
    parts = {"content_id": [], "content_type": []}
    for g in range(3):
        mine = [u for u in pure.L if chunk_of[u] == g]
        p = effect_parts_of(pure.ITEMS, ev.loc[ev["user_id"].isin(mine)],
                            res.loc[res["user_id"].isin(mine)], pure.T, cfg)
        for key in parts:
            parts[key].append(p[key])
    item_eff, type_eff = effect_tables({k: combine_effect_parts(v) for k, v in parts.items()}, cfg)
    # the fixture's hand-computed effects (i1, i5, quiz type), exact: rounded only when shown
    exact = dict(zip(item_eff["content_id"], item_eff["effect"]))
    assert exact == {"i1": pure.I1, "i5": pytest.approx(60 - (12 * 80 + 0 + 60) / 14, abs=1e-9)}
    assert round(exact["i5"], 2) == pure.I5
    assert round(dict(zip(type_eff["content_type"], type_eff["effect"]))["quiz"], 2) == pure.QUIZ
    rows = []
    for g in range(3):
        mine = [u for u in pure.L if chunk_of[u] == g]
        rows.append(compute_content_effectiveness(
            enr.loc[enr["user_id"].isin(mine)], pure.ITEMS, ev.loc[ev["user_id"].isin(mine)],
            None, cs, None, skills, pure.T, cfg, precomputed_effects=(item_eff, type_eff)))
    chunked = pd.concat(rows).sort_values("user_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(chunked, whole.sort_values("user_id").reset_index(drop=True))


def test_rows_from_the_latest_use_equal_rows_from_the_events():
    """The second pass gets each learner's latest use of each item (latest_use), not the events."""
    enr, ev, res, cs, skills = pure.fixture()
    # more uses of the same items: an older use, a use after T, a second use in W
    extra = pd.DataFrame({"user_id": ["L24", "L24", "L25", "L00"],
                          "content_id": ["i2", "i5", "i1", "i2"],
                          "event_type": ["started", "completed", "completed", "started"],
                          "occurred_at": [pure.T - 40 * pure.DAY, pure.T + pure.DAY,
                                          pure.T - 1 * pure.DAY, pure.T - 60 * pure.DAY]})
    ev = pd.concat([ev, extra], ignore_index=True)
    cfg = ContentEffectivenessConfig()
    effects = effect_tables(effect_parts_of(pure.ITEMS, ev, res, pure.T, cfg), cfg)
    use = latest_use(ev, pure.T)
    assert len(use) == len(ev.loc[ev["occurred_at"] <= pure.T, ["user_id", "content_id"]].drop_duplicates())
    assert use.set_index(["user_id", "content_id"]).loc[("L24", "i2"), "occurred_at"] == pure.T - 2 * pure.DAY
    from_events = compute_content_effectiveness(enr, pure.ITEMS, ev, None, cs, None, skills, pure.T, cfg,
                                                precomputed_effects=effects)
    from_use = compute_content_effectiveness(enr, pure.ITEMS, use, None, cs, None, skills, pure.T, cfg,
                                             precomputed_effects=effects)
    pd.testing.assert_frame_equal(from_use, from_events)
    assert from_events["recommendations"].map(len).sum() > 0  # the case is not vacuous
