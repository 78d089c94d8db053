"""gamification layer: pure pandas points ledger, levels, daily activity, streaks and
achievements (no Dagster, no database, no I/O).

Pipeline of the pure functions, all as of a snapshot instant T (tz-aware UTC):

    days    = active_days(learning_events, org_timezone_by_user, T)      # + daily_activity()
    ledger  = award_points(learning_events, assessment_results, enrollments, T,
                           org_timezone_by_user, PointRules())
    st      = streaks(days, T, org_timezone_by_user, StreakRules())
    totals  = user_points(ledger, st, LevelRules())
    earned  = earned_achievements(catalog_frame(), ledger, days, enrollments,
                                  assessment_results, user_skills, T)

Choices (defaults in ``rules.py``; details in each module's docstring):
- each content item, course and assessment earns points once per learner (first
  completion / first pass; ``PointRules.award_once_per_item``), so repeats cannot farm points;
- an active day is any learning event (started/progressed/completed) at or before T, counted
  in the organisation's time zone (unknown/missing zone → UTC); the daily and streak awards'
  origin is ``user_id:YYYY-MM-DD`` of that local day and their timestamp the day's first event;
- the current streak survives one day without activity before T's local date
  (``StreakRules.grace_days``);
- ``earned_at`` is the instant a criterion was first met (N-th course/assessment/skill,
  N-th streak day, the ledger row where the running total reaches N); mastered skills use
  ``user_skills.last_assessed_at`` (the only timestamp available for the current mastery).

Incremental (daily-partitioned) ledger: ``item_awards`` keys the once-per-item awards on
``user_id:item`` so a later or late completion of the same item is never awarded twice across
runs (``award_points`` alone dedups only within the frames it is given).
"""

from .achievements import (
    ACHIEVEMENTS,
    CRITERIA_KEYS,
    TIERS,
    achievements_seed_sql,
    catalog_frame,
    earned_achievements,
)
from .incremental import ITEM_ACTIVITY_TYPES, item_awards
from .ledger import LEDGER_COLUMNS, award_points
from .rules import (
    ACTIVITY_TYPES,
    AchievementRules,
    GamificationConfig,
    LevelRules,
    PointRules,
    StreakRules,
)
from .streaks import active_days, daily_activity, streaks, timezone_by_user
from .totals import USER_POINTS_COLUMNS, user_points

__all__ = [
    "ACHIEVEMENTS",
    "ACTIVITY_TYPES",
    "CRITERIA_KEYS",
    "ITEM_ACTIVITY_TYPES",
    "LEDGER_COLUMNS",
    "TIERS",
    "USER_POINTS_COLUMNS",
    "AchievementRules",
    "GamificationConfig",
    "LevelRules",
    "PointRules",
    "StreakRules",
    "achievements_seed_sql",
    "active_days",
    "award_points",
    "catalog_frame",
    "daily_activity",
    "earned_achievements",
    "item_awards",
    "streaks",
    "timezone_by_user",
    "user_points",
]
