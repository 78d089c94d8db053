"""Legal duties first: retention and erasure run for every nightly day, even when the nightly fails.

In the nightly run, ``retention`` and ``erasure`` come after every per-learner writer (their
``deps``), so nothing they remove is written again in the same run. Dagster skips the steps
downstream of a failed one, though: one failing analytics or predictive step would skip the
legal duties. So a run-status sensor watches the nightly job: when a nightly run ends FAILED or
CANCELED without having materialized both of them, it launches the ``legal_duties`` job
(retention + erasure + their checks, which depend on no other asset) for the same partition.
It starts after the nightly run has stopped, so no writer of that run can put rows back behind
it; ``run_key`` = the nightly run id, so one nightly launches it at most once. docs/governance.md.

No ``from __future__ import annotations`` here (Dagster reads the annotations).
"""
import dagster as dg

from analytics_pipeline.orchestration.jobs import LEGAL_DUTY_ASSET_KEYS, legal_duties_job, nightly_job

SENSOR_NAMES = {dg.DagsterRunStatus.FAILURE: "legal_duties_after_failed_nightly",
                dg.DagsterRunStatus.CANCELED: "legal_duties_after_canceled_nightly"}


def applied_duties(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The legal-duty assets the run materialized."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    done = {record.event_log_entry.dagster_event.asset_key.to_user_string() for record in records}
    return done & set(LEGAL_DUTY_ASSET_KEYS)


def legal_duties_request(context: dg.RunStatusSensorContext):
    """A ``legal_duties`` run for the ended nightly run's partition, unless that run applied both duties."""
    run = context.dagster_run
    done = applied_duties(context.instance, run.run_id)
    if done == set(LEGAL_DUTY_ASSET_KEYS):
        return dg.SkipReason(f"nightly run {run.run_id} applied retention and erasure itself")
    partition = run.tags.get("dagster/partition")
    if partition is None:
        return dg.SkipReason(f"nightly run {run.run_id} has no partition")
    context.log.info(f"nightly run {run.run_id} ({partition}) ended {run.status.value} before "
                     f"{', '.join(sorted(set(LEGAL_DUTY_ASSET_KEYS) - done))}: launching legal_duties")
    return dg.RunRequest(run_key=f"legal_duties:{run.run_id}", partition_key=partition,
                         tags={"trigger": context.sensor_name, "nightly_run_id": run.run_id})


def _sensor(status: dg.DagsterRunStatus) -> dg.SensorDefinition:
    return dg.run_status_sensor(
        name=SENSOR_NAMES[status],
        run_status=status,
        monitored_jobs=[nightly_job],
        request_job=legal_duties_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description=f"When a nightly run ends {status.value} without retention and erasure, runs the legal_duties "
                    "job for the same day (docs/governance.md).",
    )(legal_duties_request)


SENSORS = [_sensor(status) for status in SENSOR_NAMES]

defs = dg.Definitions(sensors=SENSORS)
