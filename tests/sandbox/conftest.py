"""Fixtures of the sandbox tests: real servers on free ports, a small HTTP client."""
from __future__ import annotations

import pytest
import requests

from analytics_pipeline.sandbox import Platform, start_in_thread

TOKEN = "test-token"
RESOURCES = ["organizations", "users", "courses", "enrollments", "skills", "user-skills", "content",
             "assessment-results", "learning-events", "user-preferences", "deletions"]


class Client:
    """Minimal client of one sandbox: raw GETs and full paginated reads."""

    def __init__(self, handle):
        self.handle, self.url = handle, handle.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"

    def get(self, resource: str, **params) -> requests.Response:
        return self.session.get(f"{self.url}/v1/{resource}", params=params, timeout=30)

    def read_all(self, resource: str, limit: int = 5000, **params) -> list[dict]:
        rows, cursor, seen = [], None, set()
        while True:
            query = dict(params, limit=limit, **({"cursor": cursor} if cursor else {}))
            response = self.get(resource, **query)
            assert response.status_code == 200, response.text
            body = response.json()
            rows.extend(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                return rows
            assert cursor not in seen, "cursor loop"
            seen.add(cursor)


@pytest.fixture(scope="session")
def platform_xs() -> Platform:
    """The XS platform at seed 42; read-only (never advanced)."""
    return Platform("XS", 42)


@pytest.fixture(scope="session")
def client(platform_xs):
    handle = start_in_thread(platform_xs, token=TOKEN)
    yield Client(handle)
    handle.stop()


@pytest.fixture()
def fresh_client():
    """A server over its own XS platform (may be advanced or given faults)."""
    handle = start_in_thread("XS", 42, token=TOKEN)
    yield Client(handle)
    handle.stop()


@pytest.fixture()
def faulty_client(platform_xs):
    """A server over the shared platform whose faults a test may set."""
    handle = start_in_thread(platform_xs, token=TOKEN)
    yield Client(handle)
    handle.stop()
