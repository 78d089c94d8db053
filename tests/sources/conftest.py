"""Fixtures of the sources tests: a real sandbox LMS server (XS, free port) and the resources."""
from __future__ import annotations

import dagster as dg
import pytest

from analytics_pipeline.assets.sources import SOURCE_ASSETS, deletions
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.sandbox import start_in_thread
from analytics_pipeline.resources import LmsApiResource

TOKEN = "sources-test-token"
ALL_ASSETS = [*SOURCE_ASSETS, deletions]


def api_resource(url: str, token: str = TOKEN, **overrides) -> LmsApiResource:
    """Small pages, short timeouts and retry delays: fast tests."""
    settings = dict(page_size=1000, connect_timeout_seconds=2.0, read_timeout_seconds=5, max_retry_seconds=20.0,
                    backoff_base_seconds=0.01, backoff_max_seconds=0.1)
    return LmsApiResource(base_url=url, token=token, **{**settings, **overrides})


@pytest.fixture(scope="session")
def sandbox():
    """The XS sandbox on a free port for the whole session; tests reset its faults when done."""
    handle = start_in_thread("XS", seed=42, token=TOKEN, port=0)
    yield handle
    handle.stop()


@pytest.fixture
def faulty_sandbox(sandbox):
    """The session's sandbox; its faults are cleared after the test."""
    yield sandbox
    sandbox.set_faults()


@pytest.fixture
def fresh_sandbox():
    """A sandbox of its own (its clock may be advanced)."""
    handle = start_in_thread("XS", seed=42, token=TOKEN, port=0)
    yield handle
    handle.stop()


def materialize(handle, warehouse_url, instance, assets=ALL_ASSETS, full_refresh=False, raise_on_error=True, **api):
    """Materialize ``assets`` against the sandbox ``handle``."""
    resources = {"lms_api": api_resource(handle.url, **api), "warehouse": WarehouseResource(database_url=warehouse_url)}
    config = {"ops": {a.key.to_python_identifier(): {"config": {"full_refresh": full_refresh}} for a in assets}}
    return dg.materialize(assets, resources=resources, instance=instance, run_config=config, raise_on_error=raise_on_error)
