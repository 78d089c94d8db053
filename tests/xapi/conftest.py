"""Fixtures of the xAPI tests: one real Ralph LRS per session (emptied before each test that uses it)."""
from __future__ import annotations

import pytest

from tests.xapi.ralph import Ralph


@pytest.fixture(scope="session")
def ralph_server(tmp_path_factory):
    server = Ralph(tmp_path_factory.mktemp("ralph"))
    yield server
    server.stop()


@pytest.fixture
def ralph(ralph_server):
    """The session's Ralph, empty."""
    ralph_server.reset()
    return ralph_server
