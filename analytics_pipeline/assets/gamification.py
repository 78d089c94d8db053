"""Gamification assets: the points ledger, daily activity, totals/levels/streaks and achievements.

Daily-partitioned (``DAILY_PARTITIONS``): the run for day D works on the window ``[start, T]``
with ``start`` = D 00:00 UTC (widened back to the last day processed) and ``T`` = the partition's
end. Wiring only: the reads and writes are ``gamification/store.py`` (idempotent, one
transaction each), the rules the pure layer's dataclasses. Docs: ``docs/gamification.md``.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from analytics_pipeline.gamification import (
    AchievementRules,
    GamificationConfig,
    LevelRules,
    PointRules,
    StreakRules,
)
from analytics_pipeline.assets.learner_analytics import (
    INDEPENDENT_CHECK,
    independent_check_result,
    independent_check_spec,
)
from analytics_pipeline.gamification import store
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.orchestration.pools import WAREHOUSE_HEAVY
from analytics_pipeline.orchestration.priorities import priority_tags
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse import independent_check

GROUP = "gamification"

_P, _L, _S, _A = PointRules(), LevelRules(), StreakRules(), AchievementRules()


class GamificationRules(dg.Config):
    """Point rules, level thresholds, streak and achievement rules (defaults: the pure layer's
    dataclasses, docs/gamification.md) and the chunk size of the Python steps."""

    content_completed: int = _P.content_completed
    course_completed: int = _P.course_completed
    assessment_passed: int = _P.assessment_passed
    excellence_bonus: int = _P.excellence_bonus
    excellence_score: float = _P.excellence_score
    daily_first_activity: int = _P.daily_first_activity
    streak_bonus: int = _P.streak_bonus
    streak_bonus_every_days: int = _P.streak_bonus_every_days
    award_once_per_item: bool = _P.award_once_per_item
    level_base: float = _L.base
    level_exponent: float = _L.exponent
    streak_grace_days: int = _S.grace_days
    mastery_threshold: float = _A.mastery_threshold
    chunk_rows: int = store.DEFAULT_CHUNK_ROWS

    def to_rules(self) -> GamificationConfig:
        return GamificationConfig(
            points=PointRules(
                content_completed=self.content_completed, course_completed=self.course_completed,
                assessment_passed=self.assessment_passed, excellence_bonus=self.excellence_bonus,
                excellence_score=self.excellence_score, daily_first_activity=self.daily_first_activity,
                streak_bonus=self.streak_bonus, streak_bonus_every_days=self.streak_bonus_every_days,
                award_once_per_item=self.award_once_per_item,
            ),
            levels=LevelRules(base=self.level_base, exponent=self.level_exponent),
            streaks=StreakRules(grace_days=self.streak_grace_days),
            achievements=AchievementRules(mastery_threshold=self.mastery_threshold),
        )


def _window(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> tuple[pd.Timestamp, pd.Timestamp]:
    day_start = pd.Timestamp(context.partition_time_window.start).tz_convert("UTC")
    return store.window(warehouse.engine(), day_start, snapshot_instant(context))


DAILY_ASSET = dict(
    group_name=GROUP,
    kinds={"postgres"},
    owners=["team:data-platform"],
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
)
HEAVY_DAILY_ASSET = dict(DAILY_ASSET, pool=WAREHOUSE_HEAVY)


@dg.asset(
    **DAILY_ASSET,
    op_tags=priority_tags("daily_activity"),
    # after deletions: an erasure never waits for this first build's lock (docs/scaling.md)
    deps=[dg.AssetKey("learning_events"), dg.AssetKey("users"), dg.AssetKey("organizations"),
          dg.AssetKey("deletions")],
    description=(
        "One row per learner per active local day (organisation time zone, else UTC): first and "
        "last event of the day. Upsert on (user_id, date) with least/greatest, so re-runs and "
        "backfills converge. Events of learners not yet in users are counted, not stored."
    ),
)
def daily_activity(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    start, T = _window(context, warehouse)
    return dg.MaterializeResult(metadata=store.update_daily_activity(warehouse.engine(), start, T))


@dg.asset(
    **HEAVY_DAILY_ASSET,
    op_tags=priority_tags("point_transactions"),
    deps=[daily_activity, dg.AssetKey("learning_events"), dg.AssetKey("assessment_results"),
          dg.AssetKey("enrollments"), dg.AssetKey("users")],
    description=(
        "The points ledger. Content/course/assessment awards of the window (pure item_awards, keyed "
        "user:item so each pays once across all runs) are COPYed into a temp table and inserted "
        "ON CONFLICT (activity_type, source_id) DO NOTHING; daily and streak awards are inserted "
        "set-based from daily_activity. Re-running a day or backfilling never awards twice."
    ),
)
def point_transactions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: GamificationRules
) -> dg.MaterializeResult:
    start, T = _window(context, warehouse)
    metadata = store.update_ledger(warehouse.engine(), start, T, config.to_rules().points, config.chunk_rows,
                                   context.run_id, context.log)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    **HEAVY_DAILY_ASSET,
    op_tags=priority_tags("user_points"),
    deps=[point_transactions, daily_activity, dg.AssetKey("users"), dg.AssetKey("organizations")],
    description=(
        "Totals, level and streaks per learner, recomputed set-based (SQL SUM over the ledger, "
        "gaps-and-islands over daily_activity) as of the latest partition end ever processed, so a "
        "backfill of an earlier day can never count anything twice or move totals back."
    ),
)
def user_points(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: GamificationRules
) -> dg.MaterializeResult:
    T = snapshot_instant(context)
    metadata = store.update_user_points(warehouse.engine(), T, config.to_rules(), config.chunk_rows, context.run_id)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    **HEAVY_DAILY_ASSET,
    op_tags=priority_tags("user_achievements"),
    deps=[point_transactions, daily_activity, dg.AssetKey("enrollments"),
          dg.AssetKey("assessment_results"), dg.AssetKey("user_skills"), dg.AssetKey("users")],
    description=(
        "Achievements from the catalog's criteria (achievements table), each earned once per learner "
        "(ON CONFLICT), earned_at = the instant the criteria were first met. Evaluated for the learners "
        "with an award, an active day or a skill assessment in the window, on their whole history."
    ),
)
def user_achievements(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: GamificationRules
) -> dg.MaterializeResult:
    start, T = _window(context, warehouse)
    metadata = store.update_achievements(warehouse.engine(), start, T, config.to_rules().achievements,
                                         config.chunk_rows, context.run_id)
    return dg.MaterializeResult(metadata=metadata)


#: what each table's independent check compares
_CHECKED = {"point_transactions": "Every learner's points per activity type",
            "user_points": "Every learner's total, level and streaks",
            "user_achievements": "Every learner's achievements and when they were earned"}
#: tables whose check the steps after them wait for (blocking; a WARN never stops them): retention,
#: erasure and the analyst report read or change what the check reads and report its verdict, and
#: waited for it when it ran inside the asset's step. Not the ledger's: the leaderboards need not.
_WAITED_FOR = ("user_points", "user_achievements")


@dg.multi_asset_check(
    specs=[independent_check_spec(dg.AssetKey(table), what, blocking=table in _WAITED_FOR)
           for table, what in _CHECKED.items()],
    can_subset=True,
    pool=WAREHOUSE_HEAVY,
    op_tags=priority_tags("gamification_independent_checks"),
    description=(
        "The independent checks of the ledger, totals / levels / streaks and achievements in one step: the "
        "learner sample's awards are computed once from the raw tables (checks/gamification_awards.sql) and "
        "each table is compared with them, in one snapshot (docs/gamification.md)."
    ),
)
def gamification_independent_checks(context: dg.AssetCheckExecutionContext,
                                    warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
    """The selected tables' checks (warehouse/independent_check.gamification_reports) as WARN
    results, at the T of the run's partition (user_points at the gamification's as-of); a run of
    the checks alone has no partition (Dagster launches no checks-only run of a partition, e.g.
    the UI's "Execute" of a check): then at the latest partition end the gamification processed."""
    op = context.op_execution_context
    T = snapshot_instant(op) if op.has_partition_key else independent_check.gamification_as_of(warehouse.engine())
    selected = context.selected_asset_check_keys
    tables = [t for t in _CHECKED if dg.AssetCheckKey(dg.AssetKey(t), INDEPENDENT_CHECK) in selected]
    reports = independent_check.gamification_reports(warehouse.engine(), tables, T,
                                                     independent_check.nightly_max_learners(),
                                                     independent_check.nightly_timeout_seconds())
    for table, report in reports.items():
        context.log.info(f"{independent_check.summary(report)} [{report.get('seconds', 0)} s]")
        yield independent_check_result(dg.AssetKey(table), report)


GAMIFICATION_ASSETS = [daily_activity, point_transactions, user_points, user_achievements]
GAMIFICATION_ASSET_CHECKS = [gamification_independent_checks]

defs = dg.Definitions(assets=GAMIFICATION_ASSETS, asset_checks=GAMIFICATION_ASSET_CHECKS)
