"""Alerts: a run-failure sensor that posts a short message to ALERT_WEBHOOK_URL.

The message (JSON) has a Slack/Mattermost-compatible ``text`` and the same facts as fields: job,
partition, run id, the failed step(s), the first line of each error, and a link to the run in
the UI (``DAGSTER_UI_URL``/runs/<id>). Without ALERT_WEBHOOK_URL the sensor is stopped by default
and skips. The webhook URL is read when the sensor runs (never logged: it is often a secret).
No ``from __future__ import annotations`` here (Dagster reads the annotations).
"""
import dagster as dg
import requests

from analytics_pipeline.settings import env, env_is_set

SENSOR_NAME = "run_failure_alert"
MAX_ERROR_CHARS = 300


def _first_line(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def _root_error(error) -> str | None:
    """The user's own error under Dagster's wrappers (``DagsterExecutionStepExecutionError`` ...)."""
    if error is None:
        return None
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message


def failure_message(context: dg.RunFailureSensorContext) -> dict:
    """The alert's payload for the failed run of ``context``."""
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        steps.append({"step": event.step_key, "error": _first_line(_root_error(error) or event.message)})
    run_error = getattr(context.failure_event.event_specific_data, "error", None)
    error = steps[0]["error"] if steps else _first_line(_root_error(run_error) or context.failure_event.message)
    link = f"{env('DAGSTER_UI_URL').rstrip('/')}/runs/{run.run_id}"
    partition = run.tags.get("dagster/partition")
    failed = ", ".join(s["step"] for s in steps) or "(before any step)"
    text = (
        f"Dagster run failed: job {run.job_name}" + (f" [{partition}]" if partition else "")
        + f", step {failed}: {error} — {link}"
    )
    return {
        "text": text, "job": run.job_name, "partition": partition, "run_id": run.run_id,
        "failed_steps": steps, "error": error, "url": link,
    }


@dg.run_failure_sensor(
    name=SENSOR_NAME,
    description="Posts failed runs (job, failed step, error, link) to ALERT_WEBHOOK_URL.",
    default_status=dg.DefaultSensorStatus.RUNNING if env_is_set("ALERT_WEBHOOK_URL") else dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=30,
)
def run_failure_alert(context: dg.RunFailureSensorContext):
    url = env("ALERT_WEBHOOK_URL")
    if not url:
        return dg.SkipReason("ALERT_WEBHOOK_URL is not set")
    message = failure_message(context)
    try:
        response = requests.post(url, json=message, timeout=10)
        response.raise_for_status()
    except requests.RequestException as exc:
        # raised: the tick fails visibly in the UI and the same failure is posted again next tick
        raise RuntimeError(f"the failure alert of run {message['run_id']} could not be posted: {type(exc).__name__}") from None
    context.log.info(f"failure of run {message['run_id']} posted (HTTP {response.status_code})")
    return None


defs = dg.Definitions(sensors=[run_failure_alert])
