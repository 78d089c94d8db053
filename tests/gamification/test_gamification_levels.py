"""Levels: threshold(L) = 100 × (L − 1)², level = highest level whose threshold is reached."""

import numpy as np
import pandas as pd

from analytics_pipeline.gamification import LevelRules, user_points


def test_level_thresholds_by_hand():
    rules = LevelRules()
    totals = [-5, 0, 70, 99, 100, 399, 400, 899, 900, 10_000]
    # 100×(L−1)²: L2 at 100, L3 at 400, L4 at 900, L11 at 10 000
    assert rules.level_for(totals).tolist() == [1, 1, 1, 1, 2, 2, 3, 3, 4, 11]
    assert rules.threshold(3) == 400.0


def test_level_exact_at_every_threshold_guard():
    # the closed form must not be off by one at exact thresholds (floating-point guard)
    for rules in (LevelRules(), LevelRules(base=0.3, exponent=2.0), LevelRules(base=7.0, exponent=1.5)):
        levels = np.arange(1, 3001)
        thresholds = rules.threshold(levels)
        assert (rules.level_for(thresholds) == levels).all()
        # the largest float just below each threshold is still the previous level
        below = np.nextafter(thresholds[1:], -np.inf)
        assert (rules.level_for(below) == levels[:-1]).all()


def test_user_points_totals_levels_and_streak_fill():
    ledger = pd.DataFrame({
        "user_id": ["a", "a", "b", "b", "b", "b", "c"],
        "points": [60, 10, 100, 100, 100, 100, 100],
        "activity_type": ["x"] * 7,
        "source_id": list("1234567"),
        "metadata": [{}] * 7,
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC"),
    })
    st = pd.DataFrame({"user_id": ["a", "d"], "current_streak": [2, 0], "longest_streak": [3, 4]})
    out = user_points(ledger, st).set_index("user_id")
    assert list(out.columns) == ["total_points", "current_level", "current_streak", "longest_streak"]
    assert out.loc["a"].tolist() == [70, 1, 2, 3]
    assert out.loc["b"].tolist() == [400, 3, 0, 0]
    assert out.loc["c"].tolist() == [100, 2, 0, 0]
    assert out.loc["d"].tolist() == [0, 1, 0, 4]
