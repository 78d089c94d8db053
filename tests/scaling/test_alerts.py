"""The run-failure sensor posts a real failed run to a local webhook receiver."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from analytics_pipeline.assets import alerts
from tests.scaling.runs import PROBE_MODULE, execute, step_events


@pytest.fixture
def receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/dagster", received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def failed_run(scaling_instance, warehouse_url):
    run = execute(scaling_instance, PROBE_MODULE, "probe_failing_job", "2025-02-13", "in_process")
    assert run.status == dg.DagsterRunStatus.FAILURE
    return run


def _failure_context(instance, run):
    failure = step_events(instance, run.run_id, dg.DagsterEventType.RUN_FAILURE)[0]
    return dg.build_run_status_sensor_context(
        sensor_name=alerts.SENSOR_NAME, dagster_instance=instance, dagster_run=run, dagster_event=failure,
    ).for_run_failure()


def test_a_failed_run_is_posted_to_the_webhook(scaling_instance, failed_run, receiver, monkeypatch):
    url, received = receiver
    monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("DAGSTER_UI_URL", "http://dagster.example:3000/")
    alerts.run_failure_alert(_failure_context(scaling_instance, failed_run))
    assert len(received) == 1
    posted = received[0]
    assert posted["path"] == "/hooks/dagster" and posted["content_type"] == "application/json"
    message = posted["json"]
    link = f"http://dagster.example:3000/runs/{failed_run.run_id}"
    assert message["url"] == link and message["run_id"] == failed_run.run_id
    assert message["job"] == "probe_failing_job" and message["partition"] == "2025-02-13"
    assert message["failed_steps"] == [{"step": "probe_failing", "error": message["error"]}]
    assert "probe failure: the LMS answered 503 three times" in message["error"]
    assert message["text"].startswith("Dagster run failed: job probe_failing_job [2025-02-13], step probe_failing: ")
    assert link in message["text"]


def test_without_a_webhook_the_sensor_skips(scaling_instance, failed_run, receiver, monkeypatch):
    _, received = receiver
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    result = alerts.run_failure_alert(_failure_context(scaling_instance, failed_run))
    assert isinstance(result, dg.SkipReason)
    assert received == []


def test_an_unreachable_webhook_fails_the_tick_without_leaking_the_url(scaling_instance, failed_run, monkeypatch):
    from tests.scaling.services import free_port

    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/secret-token-xyz")
    with pytest.raises(RuntimeError, match="could not be posted") as raised:
        alerts.run_failure_alert(_failure_context(scaling_instance, failed_run))
    assert "secret-token-xyz" not in str(raised.value)


def test_the_sensor_is_in_the_code_location():
    import analytics_pipeline.definitions as definitions

    sensor = definitions.defs.resolve_sensor_def(alerts.SENSOR_NAME)
    assert sensor.name == alerts.SENSOR_NAME
