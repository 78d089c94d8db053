"""Fault injection: a tiny real LRS (http.server) that answers 5xx, cuts a page or loops its `more`.

Transient faults are retried and the run succeeds; faults that persist end in a clean failure:
nothing of the run is committed and the watermark stays where it was."""
import threading
import uuid
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
import sqlalchemy as sa

from analytics_pipeline.sources.client import RetryPolicy
from analytics_pipeline.sources.errors import CursorLoopError, RetriesExhaustedError
from analytics_pipeline.sources.xapi_client import XapiClient
from analytics_pipeline.sources.store.xapi import extract_statements

PLATFORM = "https://lms.example.org"
FAST = RetryPolicy(max_retry_seconds=2.0, backoff_base_seconds=0.01, backoff_max_seconds=0.05)


def _statement(n: int, stored: str) -> dict:
    return {"id": str(uuid.UUID(int=n)), "actor": {"account": {"homePage": PLATFORM, "name": f"u{n % 3}"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": f"{PLATFORM}/content/k{n}", "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}},
            "context": {"contextActivities": {"parent": [{"id": f"{PLATFORM}/courses/c1",
                                                          "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}]}},
            "timestamp": "2026-05-01T10:00:00Z", "stored": stored}


class FaultyLrs(ThreadingHTTPServer):
    """Page 1 (two statements) links to page 2 (two more); ``fault`` applies to page 2:
    ``("5xx", n)`` / ``("cut", n)``: the first n answers fail; n = None: every answer; ``"loop"``:
    page 2 links back to itself."""

    def __init__(self, fault=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.fault, self.page2_requests, self.missing_header = fault, 0, 0
        self.pages = {
            "1": {"statements": [_statement(1, "2026-05-01T10:00:01Z"), _statement(2, "2026-05-01T10:00:02Z")],
                  "more": "/xAPI/statements?page=2"},
            "2": {"statements": [_statement(3, "2026-05-01T10:00:03Z"), _statement(4, "2026-05-01T10:00:04Z")],
                  "more": "/xAPI/statements?page=2" if fault == "loop" else ""},
        }
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):  # noqa: N802
        server: FaultyLrs = self.server
        if self.headers.get("X-Experience-API-Version") != "1.0.3" or not self.headers.get("Authorization", "").startswith("Basic "):
            server.missing_header += 1
            self.send_response(400)
            self.end_headers()
            return
        page = "2" if "page=2" in self.path else "1"
        body = orjson.dumps(server.pages[page])
        if page == "2" and isinstance(server.fault, tuple):
            server.page2_requests += 1
            kind, times = server.fault
            if times is None or server.page2_requests <= times:
                if kind == "5xx":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)  # "cut": promise the whole body, send half, hang up
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def lrs(request):
    server = FaultyLrs(getattr(request, "param", None))
    yield server
    server.stop()


def _extract(engine, server: FaultyLrs):
    with XapiClient(server.url, "user", "secret", retry=FAST) as client:
        return extract_statements(engine, client, rosters="lrs", platform_url=PLATFORM), client


def _state(engine) -> tuple:
    with engine.connect() as conn:
        return (conn.execute(sa.text("select count(*) from learning_events")).scalar_one(),
                conn.execute(sa.text("select watermark from extraction_watermarks")).scalar_one_or_none())


@pytest.mark.parametrize("lrs", [("5xx", 2), ("cut", 2)], indirect=True, ids=["5xx-twice", "cut-twice"])
def test_transient_faults_are_retried_and_the_run_loads_everything(lrs, clean_warehouse):
    stats, client = _extract(clean_warehouse, lrs)
    assert stats.rows_received == 4 and client.retries == 2 and lrs.missing_header == 0
    count, watermark = _state(clean_warehouse)
    assert count == 4 and watermark.astimezone(timezone.utc).isoformat().startswith("2026-05-01T10:00:04")


@pytest.mark.parametrize("lrs", [("5xx", None), ("cut", None)], indirect=True, ids=["5xx-always", "cut-always"])
def test_persistent_faults_fail_cleanly_with_the_watermark_unchanged(lrs, clean_warehouse):
    with clean_warehouse.begin() as conn:  # an earlier run's watermark
        conn.execute(sa.text("insert into extraction_watermarks (resource, watermark) values "
                             "('xapi-statements', '2026-04-01T00:00:00Z')"))
    with pytest.raises(RetriesExhaustedError, match="statements"):
        _extract(clean_warehouse, lrs)
    assert lrs.page2_requests > 2  # it did retry
    count, watermark = _state(clean_warehouse)
    assert count == 0  # page 1's statements were not committed either
    assert watermark.astimezone(timezone.utc).isoformat().startswith("2026-04-01T00:00:00")


@pytest.mark.parametrize("lrs", ["loop"], indirect=True)
def test_a_more_link_loop_stops(lrs, clean_warehouse):
    with pytest.raises(CursorLoopError, match="already followed"):
        _extract(clean_warehouse, lrs)
    assert _state(clean_warehouse) == (0, None)
