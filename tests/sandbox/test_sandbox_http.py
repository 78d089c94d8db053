"""The generic serving path over real HTTP: auth, parameters, pagination, clock."""
from __future__ import annotations

import re

import pytest
import requests

from conftest import RESOURCES, TOKEN

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def row_key(resource: str, row: dict) -> str:
    if resource == "user-skills":
        return f"{row['user_id']}:{row['skill_id']}"
    if resource == "user-preferences":
        return row["user_id"]
    if resource == "deletions":
        return f"{row['id']}\x00{row['resource']}"
    return row["id"]


def test_healthz_needs_no_token(client):
    assert requests.get(f"{client.url}/healthz", timeout=5).json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}])
def test_missing_or_wrong_token_is_401(client, headers):
    for path in ("/v1/users", "/_sandbox/state"):
        assert requests.get(client.url + path, headers=headers, timeout=5).status_code == 401


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 5001}, {"limit": "ten"}, {"limit": "1.5"},
                                    {"cursor": "garbage!!"}, {"cursor": "djE6dXNlcnM6YWJj"},
                                    {"updated_since": "yesterday"}, {"updated_since": "2025-13-01T00:00:00Z"}])
def test_malformed_parameters_are_400(client, params):
    assert client.get("users", **params).status_code == 400


def test_cursor_of_another_resource_is_400(client):
    cursor = client.get("users", limit=1).json()["next_cursor"]
    assert client.get("courses", cursor=cursor).status_code == 400


def test_default_and_max_limit(client):
    assert len(client.get("learning-events").json()["data"]) == 1000
    assert len(client.get("learning-events", limit=5000).json()["data"]) == 5000


@pytest.mark.parametrize("resource", RESOURCES)
def test_pagination_covers_every_visible_row_once_in_order(client, platform_xs, resource):
    rows = client.read_all(resource, limit=997)
    assert len(rows) == platform_xs.tables[resource].visible_count(platform_xs.now) > 0
    keys = [(r["updated_at"], row_key(resource, r)) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert len({row_key(resource, r) for r in rows}) == len(rows)  # one version per row
    now = platform_xs.state()["now"]
    assert all(TS.match(r["updated_at"]) and r["updated_at"] <= now for r in rows)


def test_updated_since_is_strictly_later(client):
    rows = client.read_all("learning-events")
    pivot = rows[len(rows) // 2]["updated_at"]
    later = client.read_all("learning-events", updated_since=pivot)
    assert later and all(r["updated_at"] > pivot for r in later)
    assert len(later) == sum(r["updated_at"] > pivot for r in rows)
    offset = client.read_all("learning-events", updated_since=pivot.replace("Z", "+00:00"))
    assert offset == later


def test_advance_reveals_the_next_rows_only(fresh_client):
    before = {res: fresh_client.read_all(res) for res in RESOURCES}
    old_now = fresh_client.handle.platform.state()["now"]
    state = fresh_client.session.post(f"{fresh_client.url}/_sandbox/advance", params={"days": 1}).json()
    assert state["now"] > old_now
    new_events = fresh_client.read_all("learning-events", updated_since=old_now)
    total = len(before["learning-events"])
    assert 0.002 * total < len(new_events) < 0.05 * total
    assert all(old_now < r["updated_at"] <= state["now"] for r in new_events)
    assert not {r["id"] for r in new_events} & {r["id"] for r in before["learning-events"]}
    assert len(fresh_client.read_all("learning-events")) == total + len(new_events)
    changed = fresh_client.read_all("enrollments", updated_since=old_now)
    assert changed and {r["id"] for r in changed} & {r["id"] for r in before["enrollments"]}


def test_future_erasure_appears_as_deletions(fresh_client):
    def deleted_users():
        return {r["id"] for r in fresh_client.read_all("deletions") if r["resource"] == "users"}

    first = deleted_users()
    assert first
    fresh_client.handle.advance(14)
    erased = deleted_users() - first
    assert erased
    users = {r["id"] for r in fresh_client.read_all("users")}
    assert not erased & users
    events = fresh_client.read_all("learning-events")
    assert not erased & {r["user_id"] for r in events}
    deleted_resources = {r["resource"] for r in fresh_client.read_all("deletions")}
    assert {"users", "user-preferences", "enrollments", "learning-events", "user-skills"} <= deleted_resources


def test_state_endpoint_counts_rows(client, platform_xs):
    state = client.session.get(f"{client.url}/_sandbox/state").json()
    assert state["counts"]["learning-events"] == platform_xs.tables["learning-events"].visible_count(platform_xs.now)
