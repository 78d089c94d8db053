"""Gamification rules: every number of the points/levels/streaks/achievements design as a
named default in a frozen dataclass (see ``docs`` and ``reference/design/analytics.md``,
section "Gamification").

Points (``PointRules``)
    content completed 10, course completed 100, assessment passed 25 (+10 bonus when the
    score is >= 90), first activity of a (local) day 5, every 7th consecutive day of a
    streak 50 (days 7, 14, 21, ... of one unbroken run).

Levels (``LevelRules``)
    threshold(L) = base × (L − 1)^exponent, default 100 × (L − 1)²: level 1 at 0 points,
    level 2 at 100, level 3 at 400, level 4 at 900, ...  A learner's level is the highest
    level whose threshold their total reaches.  Vectorised with the closed form
    ``floor((total / base) ** (1 / exponent)) + 1`` followed by an exact integer guard that
    corrects any floating-point off-by-one (e.g. sqrt(3.9999999) for a total of 400).

Streaks (``StreakRules``)
    ``current_streak`` counts the consecutive active days of the run whose last day is T's
    local date or at most ``grace_days`` (default 1) before it; otherwise 0.

Achievements (``AchievementRules``)
    a skill counts as mastered at ``mastery_threshold`` (default 80) or more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "PointRules",
    "LevelRules",
    "StreakRules",
    "AchievementRules",
    "GamificationConfig",
    "ACTIVITY_TYPES",
]

#: The ledger's activity types (``point_transactions.activity_type``).
ACTIVITY_TYPES = (
    "content_completed",
    "course_completed",
    "assessment_passed",
    "assessment_excellence_bonus",
    "daily_first_activity",
    "streak_bonus",
)


@dataclass(frozen=True)
class PointRules:
    """Points per ledger activity type.

    ``award_once_per_item``: a learner earns ``content_completed`` once per content item (at
    its first completion), ``course_completed`` once per course (a re-enrollment completed
    again earns nothing) and ``assessment_passed`` once per assessment (at its first passing
    result), so repeating a completion or retaking a passed assessment does not farm points.
    The excellence bonus is likewise awarded once per assessment, at the first passing result
    scoring >= ``excellence_score``.  Set it to False to award every event/result.
    """

    content_completed: int = 10
    course_completed: int = 100
    assessment_passed: int = 25
    excellence_bonus: int = 10
    excellence_score: float = 90.0
    daily_first_activity: int = 5
    streak_bonus: int = 50
    streak_bonus_every_days: int = 7
    award_once_per_item: bool = True

    def __post_init__(self) -> None:
        if self.streak_bonus_every_days < 1:
            raise ValueError("streak_bonus_every_days must be >= 1")


@dataclass(frozen=True)
class LevelRules:
    """threshold(L) = base × (L − 1)^exponent; level = highest L whose threshold is reached."""

    base: float = 100.0
    exponent: float = 2.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.exponent <= 0:
            raise ValueError("base and exponent must be positive")

    def threshold(self, level):
        """Points needed for ``level`` (scalar or array; level >= 1)."""
        lvl = np.asarray(level, dtype="float64")
        out = self.base * np.power(np.maximum(lvl - 1.0, 0.0), self.exponent)
        return out if out.ndim else float(out)

    def level_for(self, total_points) -> np.ndarray:
        """Vectorised level of each total (negative or missing totals are level 1)."""
        totals = np.nan_to_num(np.asarray(total_points, dtype="float64"), nan=0.0)
        totals = np.maximum(totals, 0.0)
        level = np.floor(np.power(totals / self.base, 1.0 / self.exponent)) + 1.0
        # Guard against floating-point error of the closed form: step up while the next
        # threshold is reached, step down while the own threshold is not.
        level = np.where(self.threshold(level + 1.0) <= totals, level + 1.0, level)
        level = np.where(self.threshold(level) > totals, level - 1.0, level)
        return np.maximum(level, 1.0).astype("int64")


@dataclass(frozen=True)
class StreakRules:
    """``grace_days``: how many days before T's local date the last active day may lie for
    the current streak to still count (1 = "ending at T or the day before")."""

    grace_days: int = 1

    def __post_init__(self) -> None:
        if self.grace_days < 0:
            raise ValueError("grace_days must be >= 0")


@dataclass(frozen=True)
class AchievementRules:
    """``mastery_threshold``: mastery level (0-100) from which a skill counts as mastered."""

    mastery_threshold: float = 80.0


@dataclass(frozen=True)
class GamificationConfig:
    """All gamification rules in one object (what an organisation could configure)."""

    points: PointRules = field(default_factory=PointRules)
    levels: LevelRules = field(default_factory=LevelRules)
    streaks: StreakRules = field(default_factory=StreakRules)
    achievements: AchievementRules = field(default_factory=AchievementRules)


def _as_utc(ts) -> pd.Timestamp:
    """T as a tz-aware UTC Timestamp (naive input is taken as UTC)."""
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
