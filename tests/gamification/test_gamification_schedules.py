"""The schedules' run requests for a given tick, and how they are registered."""
import datetime as dt

import dagster as dg

from analytics_pipeline.orchestration.schedules import (
    build_leaderboard_schedule,
    build_nightly_schedule,
    leaderboard_refresh_schedule,
    nightly_schedule,
)


def _repository(schedule):
    """A code location with the real assets and jobs, so the partitioned run request resolves."""
    from analytics_pipeline.assets.aggregates import defs as aggregate_defs
    from analytics_pipeline.assets.gamification import defs as gamification_defs
    from analytics_pipeline.orchestration.jobs import JOBS
    from analytics_pipeline.resources import WarehouseResource

    resources = {"warehouse": WarehouseResource(database_url="postgresql://nobody@127.0.0.1:1/none")}
    return dg.Definitions.merge(gamification_defs, aggregate_defs, dg.Definitions(
        jobs=JOBS, schedules=[schedule], resources=resources)).get_repository_def()


def _requests(schedule, when):
    context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=_repository(schedule))
    return list(schedule.evaluate_tick(context).run_requests or [])


def test_nightly_tick_requests_the_previous_day_partition():
    (request,) = _requests(nightly_schedule, dt.datetime(2025, 3, 11, 2, 0, tzinfo=dt.timezone.utc))
    assert request.partition_key == "2025-03-10"
    assert request.run_key == "nightly:2025-03-10"
    assert nightly_schedule.job_name == "nightly"
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_nightly_in_another_time_zone_still_asks_for_the_last_complete_utc_day():
    berlin = build_nightly_schedule(cron="0 2 * * *", timezone="Europe/Berlin")
    assert berlin.execution_timezone == "Europe/Berlin"
    tick = dt.datetime(2025, 3, 11, 1, 0, tzinfo=dt.timezone.utc)  # 02:00 in Berlin
    assert [r.partition_key for r in _requests(berlin, tick)] == ["2025-03-10"]
    tokyo = build_nightly_schedule(timezone="Asia/Tokyo")  # 02:00 Tokyo = 17:00 UTC the day before
    tick = dt.datetime(2025, 3, 10, 17, 0, tzinfo=dt.timezone.utc)
    assert [r.partition_key for r in _requests(tokyo, tick)] == ["2025-03-09"]


def test_hourly_tick_targets_the_leaderboard_job():
    hour = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)  # a tick evaluated on time
    (request,) = _requests(leaderboard_refresh_schedule, hour)
    assert leaderboard_refresh_schedule.job_name == "leaderboard_refresh"
    assert request.partition_key is None and request.run_key == f"leaderboard_refresh:{hour:%Y-%m-%dT%H}"
    assert leaderboard_refresh_schedule.cron_schedule == "0 * * * *"
    assert leaderboard_refresh_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert build_leaderboard_schedule(timezone="Europe/Paris").execution_timezone == "Europe/Paris"


def test_hourly_tick_missed_while_the_daemon_was_down_is_skipped_not_caught_up():
    """`make ui` starts the daemon, which evaluates the last missed hourly tick at once: skipped."""
    missed = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
    context = dg.build_schedule_context(scheduled_execution_time=missed,
                                        repository_def=_repository(leaderboard_refresh_schedule))
    result = leaderboard_refresh_schedule.evaluate_tick(context)
    assert not result.run_requests and "late" in result.skip_message


def test_definitions_expose_both_schedules_and_the_leaderboard_job(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("LMS_API_URL", "http://127.0.0.1:9")
    from analytics_pipeline.definitions import defs

    names = {s.name for s in defs.schedules}
    assert {"nightly_schedule", "leaderboard_refresh_schedule"} <= names
    job = defs.resolve_job_def("leaderboard_refresh")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert keys == {"leaderboard_weekly", "leaderboard_monthly"}
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()
              if graph.get(k).is_materializable}
    assert {groups[k] for k in ["daily_activity", "point_transactions", "user_points", "user_achievements"]} == {"gamification"}
    assert {groups[k] for k in ["leaderboard_weekly", "leaderboard_monthly", "peer_comparison_aggregates",
                                "skill_demand_aggregates"]} == {"aggregates"}
