"""One Dagster webserver + daemon (``dagster dev``) for the UI tests, shared by the GraphQL and
the browser tests (session scope; started on first use, ~20 s).

It serves the project's workspace.yaml plus the TEST-ONLY location tests/ui/failing_location.py,
with DAGSTER_HOME a temp dir whose dagster.yaml keeps runs/events in a throw-away PostgreSQL
database on the test server and launches runs at once (DefaultRunCoordinator; the daemon is there
for backfills). DATABASE_URL is the session's test warehouse, REPORTS_DIR a temp dir. When the
sandbox LMS exists (analytics_pipeline.sandbox.start_in_thread) one is started and
LMS_API_URL/LMS_API_TOKEN point at it; without it, runs target only assets that need no LMS.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from analytics_pipeline.orchestration.launch import free_port
from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.engine import drop_database, ensure_database
from analytics_pipeline.warehouse.urls import dagster_storage_url

FAILING_LOCATION_FILE = Path(__file__).with_name("failing_location.py")
FAILING_LOCATION = "ui_test_failing_check"
SANDBOX_TOKEN = "ui-test-token"
START_TIMEOUT = 240


@dataclass
class UiServer:
    url: str
    dagster_home: Path
    reports_dir: Path
    log_path: Path
    lms_api_url: str | None
    project_location: str
    env: dict = field(repr=False, default_factory=dict)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _workspace(tmp: Path) -> Path:
    """The project's workspace.yaml (paths made absolute) plus the test-only location."""
    spec = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    for entry in spec["load_from"]:
        for target in entry.values():
            target["working_directory"] = str((PROJECT_ROOT / target.get("working_directory", ".")).resolve())
    spec["load_from"].append({"python_file": {"relative_path": str(FAILING_LOCATION_FILE),
                                              "location_name": FAILING_LOCATION,
                                              "working_directory": str(PROJECT_ROOT)}})
    path = tmp / "workspace.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _project_location_name() -> str:
    spec = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    target = next(iter(spec["load_from"][0].values()))
    return target.get("location_name") or target.get("module_name") or target.get("python_file")


DAGSTER_YAML = """\
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
nux:
  enabled: false
"""

WORKSPACE_QUERY = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _wait_until_loaded(server: UiServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(requests.RequestException, AssertionError, KeyError, TypeError):
            entries = server.graphql(WORKSPACE_QUERY, timeout=10)["workspaceOrError"]["locationEntries"]
            errors = [e for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
            if errors:
                raise RuntimeError(f"code location failed to load: {errors}")
            if len(entries) >= 2 and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"dagster dev did not load the workspace within {START_TIMEOUT} s:\n{server.log_tail()}")
        time.sleep(0.5)


@contextlib.contextmanager
def _sandbox():
    try:
        from analytics_pipeline.sandbox import start_in_thread
    except ImportError:
        yield None
        return
    handle = start_in_thread(profile="XS", seed=42, token=SANDBOX_TOKEN, port=free_port())
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def ui_server(pg_server_url, warehouse_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagster_ui")
    dagster_home = tmp / "home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    storage_name = f"ap_ui_dagster_{uuid.uuid4().hex[:10]}"
    storage_url = dagster_storage_url(ensure_database(pg_server_url, storage_name), storage_name)
    reports_dir = tmp / "reports"
    port = free_port()
    with _sandbox() as sandbox:
        env = {
            **os.environ, "DAGSTER_HOME": str(dagster_home), "DAGSTER_PG_URL": storage_url,
            "DATABASE_URL": warehouse_url, "REPORTS_DIR": str(reports_dir), "DAGSTER_EXECUTOR": "in_process",
            "PYTHONWARNINGS": "ignore", "DAGSTER_DISABLE_TELEMETRY": "1",
        }
        env.pop("PARTITIONS_START", None)  # the UI as users meet it: partitions from the sandbox's day 0
        if sandbox is not None:
            env.update({"LMS_API_URL": sandbox.url, "LMS_API_TOKEN": SANDBOX_TOKEN})
        log_path = tmp / "dagster_dev.log"
        command = [sys.executable, "-m", "dagster", "dev", "-w", str(_workspace(tmp)), "-h", "127.0.0.1", "-p", str(port)]
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        server = UiServer(f"http://127.0.0.1:{port}", dagster_home, reports_dir, log_path,
                          sandbox.url if sandbox is not None else None, _project_location_name(), env)
        try:
            _wait_until_loaded(server, process)
            yield server
        finally:
            # dagster dev and the processes it started (webserver, daemon, code servers, run workers)
            # share its process group: end that group, the one this fixture created.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            with contextlib.suppress(Exception):
                drop_database(pg_server_url, storage_name)
