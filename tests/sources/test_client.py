"""The API client against the real sandbox: retries, rate limits, bad bodies, bad token, cursor loops."""
from __future__ import annotations

import logging
import time

import pytest

from analytics_pipeline.sources.client import LmsClient, RetryPolicy
from analytics_pipeline.sources.errors import AuthenticationError, CursorLoopError, RetriesExhaustedError
from tests.sources.conftest import TOKEN, api_resource

ENDPOINT = "users"


def read_all(client: LmsClient, endpoint: str = ENDPOINT) -> list[dict]:
    return [row for page in client.pages(endpoint) for row in page.rows]


def strip_extras(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.startswith("x_")} for row in rows]


@pytest.fixture(scope="module")
def clean_rows(sandbox):
    with api_resource(sandbox.url, page_size=50).client() as client:
        return read_all(client)


def test_pages_follow_the_cursor_to_the_end(sandbox, clean_rows):
    with api_resource(sandbox.url, page_size=50).client() as client:
        pages = list(client.pages(ENDPOINT))
    assert len(pages) == -(-len(clean_rows) // 50)
    assert pages[-1].next_cursor is None
    assert len({row["id"] for row in clean_rows}) == len(clean_rows)


@pytest.mark.parametrize("faults", [
    {"latency_ms": 30},
    {"error_rate": 0.4},
    {"truncated_body_rate": 0.4},
    {"malformed_json_rate": 0.4},
    {"drop_connection_rate": 0.4},
    {"extra_fields": True},
    {"error_rate": 0.2, "truncated_body_rate": 0.2, "malformed_json_rate": 0.2, "drop_connection_rate": 0.2},
], ids=lambda f: ",".join(f))
def test_transient_faults_are_retried_and_give_exactly_the_clean_rows(faulty_sandbox, clean_rows, faults, caplog):
    faulty_sandbox.set_faults(seed=7, **faults)
    caplog.set_level(logging.DEBUG)
    with api_resource(faulty_sandbox.url, page_size=50).client() as client:
        rows = read_all(client)
    assert strip_extras(rows) == clean_rows
    if set(faults) - {"latency_ms", "extra_fields"}:
        assert client.retries > 0 and client.attempts > len(rows) // 50
    assert TOKEN not in caplog.text


def test_the_next_page_is_read_ahead_while_a_page_is_handed_out_and_no_request_is_wasted(sandbox, clean_rows):
    with api_resource(sandbox.url, page_size=50).client() as client:
        pages = client.pages(ENDPOINT)
        first = next(pages)
        assert client._ahead is not None  # page 2's GET sent before page 1 was handed out
        client._ahead[1].result()
        assert client.attempts == 2
        rows = first.rows + [row for page in pages for row in page.rows]
        assert client._ahead is None and client.attempts == -(-len(clean_rows) // 50)
    assert rows == clean_rows


def test_a_read_ahead_for_another_cursor_is_dropped(sandbox, clean_rows):
    with api_resource(sandbox.url, page_size=50).client() as client:
        first = client.get_page(ENDPOINT, {"limit": 50}, set())
        assert client._ahead is not None
        again = client.get_page(ENDPOINT, {"limit": 50})  # not the page read ahead: sent anew
        assert client._ahead is None and client.attempts == 3
    assert again.rows == first.rows == clean_rows[:50]


def test_rate_limit_waits_at_least_retry_after(faulty_sandbox, clean_rows):
    faulty_sandbox.set_faults(rate_limit_burst=2, retry_after=1)
    started = time.monotonic()
    with api_resource(faulty_sandbox.url, page_size=50).client() as client:
        rows = read_all(client)
    assert time.monotonic() - started >= 2.0
    assert rows == clean_rows and client.retries == 2


def test_persistent_errors_stop_at_the_retry_budget_naming_endpoint_and_cause(faulty_sandbox):
    faulty_sandbox.set_faults(error_rate=1.0)
    started = time.monotonic()
    with api_resource(faulty_sandbox.url, max_retry_seconds=0.5).client() as client:
        with pytest.raises(RetriesExhaustedError, match=r"/v1/users: server error HTTP 503.*retrying for 0.5 s") as caught:
            read_all(client)
    assert time.monotonic() - started < 3
    assert TOKEN not in str(caught.value)


def test_a_read_timeout_is_retried_then_reported(faulty_sandbox):
    faulty_sandbox.set_faults(latency_ms=1500)
    with api_resource(faulty_sandbox.url, read_timeout_seconds=1, max_retry_seconds=1.0).client() as client:
        with pytest.raises(RetriesExhaustedError, match=r"/v1/users: ReadTimeout"):
            read_all(client)


def test_a_wrong_token_fails_once_without_retries(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with api_resource(sandbox.url, token="wrong-secret-token").client() as client:
        with pytest.raises(AuthenticationError, match=r"/v1/users: the LMS API refused the token \(HTTP 401\)"):
            read_all(client)
    assert client.attempts == 1 and client.retries == 0
    assert "wrong-secret-token" not in caplog.text


def test_a_cursor_loop_is_detected(faulty_sandbox):
    faulty_sandbox.set_faults(loop_cursor=True)
    with api_resource(faulty_sandbox.url, page_size=50).client() as client:
        with pytest.raises(CursorLoopError, match=r"/v1/users: .*cursor already followed"):
            read_all(client)
        assert client._ahead is None  # a cursor already followed is not read ahead either


def test_retry_waits_honour_retry_after_and_grow_with_a_cap():
    policy = RetryPolicy(max_retry_seconds=10, backoff_base_seconds=1, backoff_max_seconds=4)
    waits = policy.waits()
    next(waits)
    plain = [waits.send(RuntimeError()) for _ in range(6)]
    assert all(0 <= w <= 4 for w in plain)

    class Limited(Exception):
        retry_after = 3.0

    assert waits.send(Limited()) >= 3.0
