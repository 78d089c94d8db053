"""``user_points``: one row per learner with a ledger row or an active day.

total_points   = sum of the learner's ledger points (the ledger passed in is taken as is;
                 filter it to ``timestamp <= T`` first — ``award_points`` already does);
current_level  = ``LevelRules.level_for(total_points)`` (100 × (L − 1)²: 0→1, 100→2, 400→3);
current_streak, longest_streak from ``streaks`` (0 when the learner has no active day).
"""

from __future__ import annotations

import pandas as pd

from .rules import LevelRules

__all__ = ["user_points", "USER_POINTS_COLUMNS"]

USER_POINTS_COLUMNS = ["user_id", "total_points", "current_level", "current_streak", "longest_streak"]


def user_points(
    ledger: pd.DataFrame,
    streaks: pd.DataFrame,
    rules: LevelRules = LevelRules(),
) -> pd.DataFrame:
    """``user_id, total_points, current_level, current_streak, longest_streak``."""
    totals = (
        ledger.assign(user_id=ledger["user_id"].astype("str"),
                      points=pd.to_numeric(ledger["points"]).fillna(0))
        .groupby("user_id", sort=False)["points"].sum()
        .rename("total_points")
        .reset_index()
    )
    s = streaks[["user_id", "current_streak", "longest_streak"]].copy()
    s["user_id"] = s["user_id"].astype("str")
    out = totals.merge(s, on="user_id", how="outer", sort=True)
    for col in ["total_points", "current_streak", "longest_streak"]:
        out[col] = out[col].fillna(0).astype("int64")
    out["current_level"] = rules.level_for(out["total_points"].to_numpy())
    return out[USER_POINTS_COLUMNS].reset_index(drop=True)
