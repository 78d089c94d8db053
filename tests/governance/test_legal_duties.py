"""Legal duties first: a failing analytics step in the nightly does not cost the night its retention and erasure.

The real nightly job of the code location runs (a slice of it: a learner-analytics asset and the
two duties) with the analytics asset broken by its run config; Dagster skips retention and erasure
in that run. The sensor that watches the nightly job then requests the ``legal_duties`` run for
the same day, which applies both, and their checks pass.
"""
import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.assets import legal_duties
from tests.governance.people import seed_people

BROKEN = "engagement_analytics"


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _state(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        ancient = conn.execute(sa.text("select count(*) from learning_events where id = 'le-ancient'")).scalar_one()
        erased = conn.execute(sa.text("select count(*) from users where id = 'b1'")).scalar_one()
    return ancient, erased


@pytest.mark.slow
def test_a_failing_analytics_step_still_gets_retention_and_erasure_applied_for_its_night(
        clean_warehouse, warehouse_url, dagster_instance, monkeypatch):
    monkeypatch.setenv("LMS_API_URL", "http://127.0.0.1:9")  # the code location's API resource (not used here)
    from analytics_pipeline import definitions

    day = pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)
    partition = day.date().isoformat()
    with clean_warehouse.begin() as conn:
        seed_people(conn, (day + pd.Timedelta(days=1)).to_pydatetime())
        conn.execute(sa.text("insert into learning_events (id, user_id, event_type, occurred_at, updated_at) "
                             "values ('le-ancient', 'a1', 'started', now() - interval '200 days', now())"))
        conn.execute(sa.text("insert into erasure_requests (user_id) values ('b1')"))

    nightly = definitions.defs.resolve_job_def("nightly")
    broken = nightly.execute_in_process(
        partition_key=partition, instance=dagster_instance, raise_on_error=False,
        asset_selection=[dg.AssetKey(k) for k in (BROKEN, "retention", "erasure")],
        run_config={"ops": {BROKEN: {"config": {"thresholds": {"no_such_setting": 1.0}}}}},
    )
    assert not broken.success
    assert [e.step_key for e in broken.get_step_failure_events()] == [BROKEN]
    assert _materialized(broken) == set()  # Dagster skipped both duties in the nightly run
    assert _state(clean_warehouse) == (1, 1)

    run = dagster_instance.get_run_by_id(broken.run_id)
    failure = dagster_instance.get_records_for_run(
        broken.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0].event_log_entry.dagster_event
    sensor = definitions.defs.resolve_sensor_def("legal_duties_after_failed_nightly")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=dagster_instance, dagster_run=run, dagster_event=failure)
    request = sensor(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == partition and request.run_key == f"legal_duties:{broken.run_id}"
    assert sensor.job_name == "legal_duties"

    duties = definitions.defs.resolve_job_def("legal_duties").execute_in_process(
        partition_key=request.partition_key, tags=request.tags, instance=dagster_instance)
    assert duties.success and _materialized(duties) == {"retention", "erasure"}
    checks = {e.check_name: e.passed for e in duties.get_asset_check_evaluations()}
    assert checks == {"retention_limits_hold": True, "expiry_is_consistent": True, "erasure_is_complete": True}
    assert _state(clean_warehouse) == (0, 0)  # the 200-day-old event is gone, b1 is erased
    with clean_warehouse.connect() as conn:
        audited = set(conn.execute(sa.text("select action from governance_audit where run_id = :r"),
                                   {"r": duties.run_id}).scalars())
    assert {"retention", "erasure"} <= audited
    assert duties.dagster_run.tags["nightly_run_id"] == broken.run_id

    # A nightly run that did apply both duties needs no second run.
    assert legal_duties.applied_duties(dagster_instance, duties.run_id) == {"retention", "erasure"}


def test_the_sensors_watch_the_nightly_job_and_start_running():
    for sensor in legal_duties.SENSORS:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.job_name == "legal_duties"
