"""The four materialized views as assets (group ``aggregates``), each refreshed with
``REFRESH MATERIALIZED VIEW CONCURRENTLY`` (readers are never blocked; every view has a unique
index, sql/migrations/0005_gamification.sql).

Not partitioned: a view is one current state (the leaderboards cover the current UTC week and
month, the aggregates each learner's latest unexpired snapshot), so the nightly job refreshes
them once after the day's writes and ``leaderboard_refresh`` refreshes the two leaderboards hourly.

Wiring only: refresh and read-back are ``aggregates/store.py``.

No collision with the nightly writes (docs/gamification.md, "Schedules and collisions"):
- both leaderboard assets are in the Dagster pool ``leaderboards`` (limit 1): two refreshes of
  the hourly job and of the nightly job never run at the same time;
- a leaderboard refresh takes the ledger's advisory lock exclusively (``point_transactions``
  writers hold it shared), so it waits until a ledger write in progress has committed (at most
  ``lock_timeout_seconds``, then it fails with a clear message and the next hour retries) and
  publishes a whole day, never a half-written one.
"""

import dagster as dg
import pandas as pd

from analytics_pipeline.aggregates.store import LedgerBusy, leaderboard_entries, refresh_view, smallest_group
from analytics_pipeline.assets.learner_analytics import independent_check_result, independent_check_spec
from analytics_pipeline.orchestration.pools import WAREHOUSE_HEAVY
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse import independent_check

GROUP = "aggregates"
LEADERBOARDS_POOL = "leaderboards"
LEADERBOARD_KEYS = ("leaderboard_weekly", "leaderboard_monthly")


class RefreshConfig(dg.Config):
    """``lock_timeout_seconds``: how long a leaderboard refresh waits for a ledger write."""

    lock_timeout_seconds: int = 900


def _independent(name: str, engine) -> list:
    """The view's independent check (warehouse/independent_check.py) as a WARN result: as of
    the newest unexpired snapshot (peer comparison) or now (leaderboards, skill demand). Above the
    nightly's learner bound, peer comparison compares the groups of a hash sample of organizations
    (each exact: a group is its organization's learners); the other views are compared whole."""
    check_name = independent_check.AGGREGATE_CHECKS[name]
    T = independent_check.latest_snapshot_instant(engine) if check_name == "peer_comparison" \
        else pd.Timestamp.now(tz="UTC").floor("s")
    report = independent_check.check_or_error(engine, check_name, T, independent_check.nightly_max_learners(),
                                              timeout_seconds=independent_check.nightly_timeout_seconds())
    return [independent_check_result(dg.AssetKey(name), report)]


def _leaderboard(name: str, period: str):
    @dg.asset(
        name=name,
        group_name=GROUP,
        kinds={"postgres"},
        owners=["team:data-platform"],
        pool=LEADERBOARDS_POOL,
        code_version="1",
        check_specs=[independent_check_spec(dg.AssetKey(name), f"Every {name} entry")],
        deps=[dg.AssetKey("point_transactions"), dg.AssetKey("user_preferences"), dg.AssetKey("users")],
        description=(
            f"{period.capitalize()} leaderboard (points since the start of the UTC {period}): hidden "
            "learners left out, anonymous ones ranked as 'Anonymous learner' with no user id or avatar; "
            "opaque entry_id as unique key. Refreshed CONCURRENTLY nightly and hourly."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               config: RefreshConfig) -> dg.MaterializeResult:
        try:
            stats = refresh_view(warehouse.engine(), name, ledger_lock=True,
                                 lock_timeout_seconds=config.lock_timeout_seconds)
        except LedgerBusy as exc:
            raise dg.Failure(str(exc)) from exc
        return dg.MaterializeResult(metadata={**stats, **leaderboard_entries(warehouse.engine(), name)},
                                    check_results=_independent(name, warehouse.engine()))

    return _asset


leaderboard_weekly = _leaderboard("leaderboard_weekly", "week")
leaderboard_monthly = _leaderboard("leaderboard_monthly", "month")


def _k_anonymous_view(name: str, count_column: str, deps: list[str], description: str):
    """A k-anonymous aggregate view as an asset: refreshed, then its smallest published group and k
    as metadata (``count_column`` is the group's learner count)."""
    @dg.asset(
        name=name,
        group_name=GROUP,
        kinds={"postgres"},
        owners=["team:data-platform"],
        pool=WAREHOUSE_HEAVY,
        code_version="1",
        deps=[dg.AssetKey(key) for key in deps],
        check_specs=[independent_check_spec(dg.AssetKey(name), f"Every {name} group")],
        description=description,
    )
    def _asset(warehouse: WarehouseResource) -> dg.MaterializeResult:
        stats = refresh_view(warehouse.engine(), name, ledger_lock=False)
        return dg.MaterializeResult(metadata={**stats, **smallest_group(warehouse.engine(), name, count_column)},
                                    check_results=_independent(name, warehouse.engine()))

    return _asset


peer_comparison_aggregates = _k_anonymous_view(
    "peer_comparison_aggregates", "sample_size",
    deps=["access_control", "learner_velocity_analytics", "performance_analytics", "user_skills", "users"],
    description=(
        "Peer groups (organisation × competency level from mean mastery) over each learner's latest "
        "unexpired velocity/performance snapshot; a group is published only with at least k learners "
        "(k_anonymity(), never below 5), its avg_score only when k of them have a score."
    ),
)
skill_demand_aggregates = _k_anonymous_view(
    "skill_demand_aggregates", "learner_count",
    deps=["access_control", "user_skills", "skills"],
    description=(
        "Learners per skill and UTC month of assessment with mean mastery and growth against the "
        "previous calendar month; a cell with fewer than k learners is not published (nor used as the "
        "base of a growth rate)."
    ),
)


AGGREGATE_ASSETS = [leaderboard_weekly, leaderboard_monthly, peer_comparison_aggregates, skill_demand_aggregates]

defs = dg.Definitions(assets=AGGREGATE_ASSETS)
