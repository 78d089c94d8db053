"""Each fault flag produces its fault, deterministically, on data endpoints only."""
from __future__ import annotations

import time

import pytest
import requests


def statuses(client, n: int) -> list[int]:
    return [client.get("skills", limit=5).status_code for _ in range(n)]


def test_faults_set_over_http_and_unknown_flag_rejected(faulty_client):
    url = f"{faulty_client.url}/_sandbox/faults"
    assert faulty_client.session.post(url, json={"error_rate": 1.0}).status_code == 200
    assert faulty_client.get("skills").status_code == 503
    assert faulty_client.session.post(url, json={"no_such_flag": 1}).status_code == 400
    assert faulty_client.session.post(url, json={}).status_code == 200
    assert faulty_client.get("skills").status_code == 200


def test_faults_spare_admin_and_health_endpoints(faulty_client):
    faulty_client.handle.set_faults(error_rate=1.0, drop_connection_rate=1.0)
    assert requests.get(f"{faulty_client.url}/healthz", timeout=5).status_code == 200
    assert faulty_client.session.get(f"{faulty_client.url}/_sandbox/state").status_code == 200


def test_error_rate_is_deterministic_given_the_seed(faulty_client):
    faulty_client.handle.set_faults(error_rate=0.5, seed=7)
    first = statuses(faulty_client, 40)
    faulty_client.handle.set_faults(error_rate=0.5, seed=7)
    assert statuses(faulty_client, 40) == first
    assert set(first) == {200, 503} and 8 < first.count(503) < 32


def test_rate_limit_burst_with_retry_after(faulty_client):
    faulty_client.handle.set_faults(rate_limit_burst=2, retry_after=3)
    responses = [faulty_client.get("skills") for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].headers["Retry-After"] == "3"


def test_latency(faulty_client):
    faulty_client.handle.set_faults(latency_ms=200)
    started = time.perf_counter()
    assert faulty_client.get("skills").status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_truncated_body(faulty_client):
    faulty_client.handle.set_faults(truncated_body_rate=1.0)
    with pytest.raises(requests.exceptions.RequestException):
        faulty_client.get("learning-events", limit=100)


def test_malformed_json(faulty_client):
    faulty_client.handle.set_faults(malformed_json_rate=1.0)
    response = faulty_client.get("learning-events", limit=100)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_dropped_connection(faulty_client):
    faulty_client.handle.set_faults(drop_connection_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        faulty_client.get("skills")


def test_extra_fields(faulty_client):
    faulty_client.handle.set_faults(extra_fields=True)
    rows = faulty_client.get("users", limit=50).json()["data"]
    assert rows and all("x_sandbox_note" in r and "x_sandbox_meta" in r for r in rows)


def test_invalid_rows(faulty_client):
    faulty_client.handle.set_faults(invalid_row_rate=0.3, seed=3)
    rows = faulty_client.get("assessment-results", limit=1000).json()["data"]
    required = ["id", "user_id", "assessment_id", "score", "passing_score", "submitted_at", "updated_at"]

    def broken(row):
        numbers_ok = all(isinstance(row.get(k, 0), (int, float)) and 0 <= row.get(k, 0) <= 100
                         for k in ("score", "passing_score"))
        stamps_ok = all(str(row.get(k, "2025-01-01T00:00:00Z")).endswith("Z")
                        for k in ("submitted_at", "updated_at"))
        return any(k not in row for k in required) or not numbers_ok or not stamps_ok

    share = sum(map(broken, rows)) / len(rows)
    assert 0.15 < share < 0.45
    faulty_client.handle.set_faults(invalid_row_rate=0.3, seed=3)
    assert faulty_client.get("assessment-results", limit=1000).json()["data"] == rows


def test_loop_cursor_points_back_to_the_first_page(faulty_client):
    faulty_client.handle.set_faults(loop_cursor=True)
    first = faulty_client.get("learning-events", limit=100).json()
    second = faulty_client.get("learning-events", limit=100, cursor=first["next_cursor"]).json()
    third = faulty_client.get("learning-events", limit=100, cursor=second["next_cursor"]).json()
    assert third["data"] == first["data"]  # the client is sent round in circles
    assert faulty_client.get("learning-events", limit=100, cursor=third["next_cursor"]).json() == third
