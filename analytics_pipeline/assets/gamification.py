"""Gamification assets: the points ledger, daily activity, totals/levels/streaks and achievements.

Daily-partitioned (``DAILY_PARTITIONS``): the run for day D works on the window
``[start, T]`` with ``start`` = D 00:00 UTC and ``T`` = the partition's end.  Every write is
idempotent, so a re-run, a re-execution from failure or a backfill in any order gives the same
tables:

- ``daily_activity``      upsert on ``(user_id, date)``: first = least, last = greatest;
- ``point_transactions``  COPY into a temp table, ``INSERT ... ON CONFLICT (activity_type,
                          source_id) DO NOTHING`` (item awards keyed per learner and item, see
                          ``gamification.incremental``), day and streak awards set-based in SQL;
- ``user_points``         recomputed set-based from the whole ledger (SQL SUM) and daily_activity
                          as of the latest T ever processed — never incremented;
- ``user_achievements``   each achievement once per learner (``ON CONFLICT``), ``earned_at`` the
                          instant the criteria were first met.

SQL in ``sql/queries/gamification/``; rules in ``GamificationRules`` (the pure layer's
dataclasses and their defaults).  Memory: only the needed columns and the window are read; the
Python parts (item awards, levels, achievements) run per user-hash bucket of at most
``chunk_rows`` input rows.  Docs: ``docs/gamification.md``.
"""

import math
from collections import Counter

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.gamification import (
    AchievementRules,
    GamificationConfig,
    LevelRules,
    PointRules,
    StreakRules,
    earned_achievements,
    item_awards,
)
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse import copy_frame, read_frame, sql_text
from analytics_pipeline.warehouse.bulk import column_limits, quarantine_rows, storable_split
from analytics_pipeline.warehouse.bulk import read_copy

try:  # the scaling layer's pool names (orchestration/pools.py), when present
    from analytics_pipeline.orchestration.pools import WAREHOUSE_HEAVY
except ImportError:  # pragma: no cover - before the scaling layer lands
    WAREHOUSE_HEAVY = "warehouse_heavy"

GROUP = "gamification"
#: The ledger's advisory lock: ledger writers take it shared, leaderboard refreshes exclusive.
LEDGER_LOCK_SQL = "hashtext('analytics_pipeline:point_transactions')"
#: Events are read this long before the window so a local day that began in the previous UTC
#: day (time zones up to UTC+14, 25-hour DST days) gets its true first event.
LOOKBACK = pd.Timedelta(hours=26)

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
    chunk_rows: int = 200_000

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


#: The first run (an empty ledger) catches up on this much history — the activity logs'
#: retention — so a new warehouse starts with every learner's points, streaks and achievements.
CATCH_UP_DAYS = 90


def _window(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, T]``: the partition's day, widened back to the last day ever processed (so a
    missed night leaves no gap) or, on the first run, to ``CATCH_UP_DAYS`` before T. The writes
    are idempotent, so the overlap costs time, never a double award."""
    T = snapshot_instant(context)
    start = pd.Timestamp(context.partition_time_window.start).tz_convert("UTC")
    with warehouse.engine().connect() as conn:
        last = conn.execute(_q("last_as_of")).scalar()
    caught_up_from = pd.Timestamp(last).tz_convert("UTC") if last is not None else T - pd.Timedelta(days=CATCH_UP_DAYS)
    return min(start, caught_up_from), T


def _buckets(n_rows: int, chunk_rows: int) -> int:
    return max(1, math.ceil(n_rows / max(1, chunk_rows)))


def _inserted_and_updated(flags: list[bool]) -> tuple[int, int]:
    """Counts of an upsert's ``inserted`` flags (one per row returned): (true, false)."""
    inserted = sum(1 for f in flags if f)
    return inserted, len(flags) - inserted


def _stage(conn: sa.Connection, tmp_table: str, frame: pd.DataFrame, target: str, run_id: str | None,
           **copy_options) -> int:
    """Empty ``tmp_table`` and COPY ``frame`` into it (one bucket's rows). A learner row a column cannot
    hold (an integer overflow) is quarantined with the reason under ``target`` instead of failing the
    asset for everybody (``bulk.storable_split``); returns how many."""
    frame, flagged = storable_split(frame, column_limits(conn, tmp_table))
    conn.execute(sa.text(f"truncate {tmp_table}"))
    copy_frame(conn, tmp_table, frame, **copy_options)
    return quarantine_rows(conn, target, flagged, run_id)


def _q(name: str) -> sa.TextClause:
    return sa.text(sql_text(f"gamification/{name}.sql"))


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
    deps=[dg.AssetKey("learning_events"), dg.AssetKey("users"), dg.AssetKey("organizations")],
    description=(
        "One row per learner per active local day (organisation time zone, else UTC): first and "
        "last event of the day. Upsert on (user_id, date) with least/greatest, so re-runs and "
        "backfills converge. Events of learners not yet in users are counted, not stored."
    ),
)
def daily_activity(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    start, T = _window(context, warehouse)
    params = {"read_from": (start - LOOKBACK).to_pydatetime(), "start": start.to_pydatetime(),
              "t": T.to_pydatetime()}
    with warehouse.engine().begin() as conn:
        flags = conn.execute(_q("daily_activity_upsert"), params).scalars().all()
        unknown = conn.execute(_q("events_of_unknown_users"), params).one()
    inserted, updated = _inserted_and_updated(flags)
    return dg.MaterializeResult(metadata={
        "days_inserted": inserted,
        "days_updated": updated,
        "events_of_unknown_users": int(unknown.events),
        "unknown_users": int(unknown.learners),
        "window_start": start.isoformat(),
        "T": T.isoformat(),
    })


@dg.asset(
    **HEAVY_DAILY_ASSET,
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
    rules = config.to_rules().points
    window = {"start": start.to_pydatetime(), "t": T.to_pydatetime()}
    awarded: Counter[str] = Counter()  # new awards per activity_type
    computed = skipped_unknown = quarantined = 0
    with warehouse.engine().begin() as conn:
        conn.execute(sa.text(f"select pg_advisory_xact_lock_shared({LEDGER_LOCK_SQL})"))
        n_rows = conn.execute(_q("window_item_counts"), window).scalar_one()
        buckets = _buckets(n_rows, config.chunk_rows)
        conn.execute(_q("create_tmp_point_awards"))
        for bucket in range(buckets):
            params = {**window, "buckets": buckets, "bucket": bucket}
            events = read_copy(conn, sql_text("gamification/window_completed_events.sql"), params)
            results = read_copy(conn, sql_text("gamification/window_passed_results.sql"), params)
            enrollments = read_copy(conn, sql_text("gamification/window_completed_enrollments.sql"), params)
            ledger = item_awards(events, results, enrollments, T, rules)
            computed += len(ledger)
            quarantined += _stage(conn, "tmp_point_awards", ledger[["user_id", "points", "activity_type", "source_id",
                                                                    "origin_id", "metadata", "timestamp"]],
                                  "point_transactions", context.run_id, json_columns=["metadata"])
            skipped_unknown += conn.execute(_q("count_tmp_unknown_users")).scalar_one()
            awarded.update(activity_type for activity_type, _ in conn.execute(_q("insert_item_awards")).all())
        day_rows = conn.execute(_q("insert_day_awards"), {
            **window, "daily_points": rules.daily_first_activity, "streak_points": rules.streak_bonus,
            "streak_every": rules.streak_bonus_every_days,
        }).all()
        awarded.update(activity_type for activity_type, _ in day_rows)
        total_rows = conn.execute(sa.text("select count(*) from point_transactions")).scalar_one()
    context.log.info("ledger %s: %s new awards %s", context.partition_key, sum(awarded.values()), dict(awarded))
    return dg.MaterializeResult(metadata={
        "awards_inserted": sum(awarded.values()),
        **{f"inserted_{k}": v for k, v in sorted(awarded.items())},
        "item_awards_computed": computed,
        "item_awards_of_unknown_users": int(skipped_unknown),
        "rows_quarantined": quarantined,
        "user_buckets": buckets,
        "ledger_rows": int(total_rows),
        "T": T.isoformat(),
    })


@dg.asset(
    **HEAVY_DAILY_ASSET,
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
    rules = config.to_rules()
    inserted = updated = learners = quarantined = 0
    with warehouse.engine().begin() as conn:
        as_of = pd.Timestamp(conn.execute(_q("advance_as_of"), {"t": T.to_pydatetime()}).scalar_one())
        n_users = conn.execute(_q("count_users")).scalar_one()
        buckets = _buckets(n_users, config.chunk_rows)
        conn.execute(_q("create_tmp_user_points"))
        for bucket in range(buckets):
            frame = read_copy(conn, sql_text("gamification/user_points_bucket.sql"), {
                "as_of": as_of.to_pydatetime(), "grace": rules.streaks.grace_days,
                "buckets": buckets, "bucket": bucket,
            })
            if frame.empty:
                continue
            frame["current_level"] = rules.levels.level_for(frame["total_points"].to_numpy())
            learners += len(frame)
            quarantined += _stage(conn, "tmp_user_points", frame[["user_id", "total_points", "current_level",
                                                                  "current_streak", "longest_streak"]],
                                  "user_points", context.run_id)
            bucket_inserted, bucket_updated = _inserted_and_updated(conn.execute(_q("upsert_user_points")).scalars().all())
            inserted += bucket_inserted
            updated += bucket_updated
        summary = conn.execute(sa.text(
            "select count(*), coalesce(sum(total_points), 0), coalesce(max(current_level), 0), "
            "coalesce(max(longest_streak), 0) from user_points")).one()
    return dg.MaterializeResult(metadata={
        "as_of": as_of.isoformat(),
        "learners_computed": learners,
        "rows_quarantined": quarantined,
        "rows_inserted": inserted,
        "rows_updated": updated,
        "rows": int(summary[0]),
        "points_total": int(summary[1]),
        "max_level": int(summary[2]),
        "max_longest_streak": int(summary[3]),
        "user_buckets": buckets,
    })


@dg.asset(
    **HEAVY_DAILY_ASSET,
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
    rules = config.to_rules().achievements
    window = {"start": start.to_pydatetime(), "t": T.to_pydatetime()}
    inserted = moved_back = evaluated = 0
    with warehouse.engine().begin() as conn:
        catalog = read_frame(conn, sql_text("gamification/achievement_catalog.sql"))
        conn.execute(_q("achievement_candidates"), window)
        n_candidates = conn.execute(sa.text("select count(*) from tmp_achievement_candidates")).scalar_one()
        # a learner's history is larger than one row: about 100 rows each on average
        buckets = _buckets(n_candidates * 100, config.chunk_rows)
        conn.execute(_q("create_tmp_user_achievements"))
        for bucket in range(buckets):
            params = {"t": T.to_pydatetime(), "buckets": buckets, "bucket": bucket,
                      "mastery_threshold": rules.mastery_threshold}
            frames = {name: read_copy(conn, sql_text(f"gamification/achievement_{name}.sql"), params)
                      for name in ("ledger", "days", "enrollments", "results", "skills")}
            earned = earned_achievements(catalog, frames["ledger"], frames["days"], frames["enrollments"],
                                         frames["results"], frames["skills"], T, rules)
            evaluated += len(earned)
            _stage(conn, "tmp_user_achievements", earned[["user_id", "achievement_id", "earned_at"]],
                   "user_achievements", context.run_id)
            bucket_inserted, bucket_moved_back = _inserted_and_updated(
                conn.execute(_q("insert_user_achievements")).scalars().all())
            inserted += bucket_inserted
            moved_back += bucket_moved_back
        total = conn.execute(sa.text("select count(*) from user_achievements")).scalar_one()
    return dg.MaterializeResult(metadata={
        "candidates": int(n_candidates),
        "earned_evaluated": evaluated,
        "achievements_inserted": inserted,
        "earned_at_moved_back": moved_back,
        "rows": int(total),
        "catalog_entries": len(catalog),
        "user_buckets": buckets,
        "T": T.isoformat(),
    })


GAMIFICATION_ASSETS = [daily_activity, point_transactions, user_points, user_achievements]

defs = dg.Definitions(assets=GAMIFICATION_ASSETS)
