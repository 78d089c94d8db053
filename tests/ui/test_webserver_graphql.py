"""The Dagster webserver as the team sees it, driven through its public GraphQL API (POST /graphql):
the asset graph (keys, upstream edges, groups, kinds, owners, code versions, freshness), a launched
nightly run that succeeds, a three-day backfill that completes (daemon), and a failing blocking
check that shows as failed. Expectations come from tests/ui/expected_graph.py."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from analytics_pipeline.orchestration.freshness import DASHBOARD_GROUPS, FAIL_WINDOW
from analytics_pipeline.orchestration.launch import default_partition
from tests.ui import expected_graph as spec
from tests.ui.conftest import FAILING_LOCATION, SANDBOX_TOKEN

pytestmark = pytest.mark.slow

REPOSITORY = "__repository__"  # the repository name of a Definitions object
RUN_TIMEOUT = 600  # the nightly on a shared 2-core machine under load (~16) took over 240 s
BACKFILL_TIMEOUT = 600
# Assets a run may target without an LMS server (everything when the sandbox exists).
NO_LMS_RESOURCE = "lms_api"

ASSET_NODES = """
query {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    kinds
    description
    opVersion
    owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    isMaterializable
    isAutoCreatedStub
    requiredResources { resourceKey }
    internalFreshnessPolicy { __typename ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } }
    repository { name location { name } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
  }
}
"""

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_STATUS = """
query($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } ... on PythonError { message } } }
"""

STEP_FAILURES = """
query($runId: ID!) { logsForRun(runId: $runId) { __typename ... on EventConnection { events { __typename
  ... on ExecutionStepFailureEvent { stepKey error { message } } } } } }
"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on PartitionSetNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

BACKFILL_STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions partitionNames } ... on PythonError { message } } }
"""

BACKFILL_RUNS = """
query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) { __typename
  ... on Runs { results { runId status tags { key value } } } } }
"""

CHECK_STATUS = """
query($key: AssetKeyInput!) { assetNodes(assetKeys: [$key]) { assetChecksOrError { __typename
  ... on AssetChecks { checks { name blocking executionForLatestMaterialization { status runId } } } } } }
"""


def _key(node) -> str:
    return "/".join(node["assetKey"]["path"])


@pytest.fixture(scope="module")
def asset_nodes(ui_server) -> dict[str, dict]:
    nodes = ui_server.graphql(ASSET_NODES)["assetNodes"]
    return {_key(n): n for n in nodes}


@pytest.fixture(scope="module")
def project_nodes(asset_nodes, ui_server) -> dict[str, dict]:
    return {k: n for k, n in asset_nodes.items()
            if n["repository"]["location"]["name"] != FAILING_LOCATION and not n["isAutoCreatedStub"]}


@pytest.fixture(scope="module")
def runnable_keys(project_nodes, ui_server) -> list[str]:
    """What the nightly run targets: all of it with the sandbox LMS, else the assets needing no LMS."""
    keys = [k for k, n in project_nodes.items() if n["isMaterializable"]]
    if ui_server.lms_api_url:
        return sorted(keys)
    return sorted(k for k in keys if NO_LMS_RESOURCE not in {r["resourceKey"] for r in project_nodes[k]["requiredResources"]})


def _yesterday() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)


def _nightly_partition(ui_server) -> str:
    """The day the nightly runs for: the sandbox LMS's last complete day (its clock's day before,
    as `make run` picks it), so the sources have data; yesterday (UTC) without the sandbox."""
    if ui_server.lms_api_url:
        return default_partition(ui_server.lms_api_url, SANDBOX_TOKEN)
    return _yesterday().date().isoformat()


def _wait_for_run(ui_server, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = ui_server.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout} s\n{ui_server.log_tail()}"
        time.sleep(1)


def _step_failures(ui_server, run_id: str) -> list:
    events = ui_server.graphql(STEP_FAILURES, {"runId": run_id})["logsForRun"].get("events", [])
    return [(e["stepKey"], e["error"]["message"][:500]) for e in events if e["__typename"] == "ExecutionStepFailureEvent"]


def _launch(ui_server, location: str, job: str, keys: list[str] | None, tags: dict[str, str]) -> str:
    selector = {"repositoryLocationName": location, "repositoryName": REPOSITORY, "jobName": job}
    if keys is not None:
        selector["assetSelection"] = [{"path": k.split("/")} for k in keys]
    data = ui_server.graphql(LAUNCH_RUN, {"params": {
        "selector": selector, "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }})["launchRun"]
    assert data["__typename"] == "LaunchRunSuccess", data
    return data["run"]["runId"]


@pytest.fixture(scope="module")
def launched(ui_server, project_nodes, runnable_keys):
    """Everything the tests launch, launched at once so that the runs and the daemon's backfill
    work in parallel while the graph tests run: a three-day backfill, the nightly run for
    the sandbox's last complete day, and the test-only location's failing-check run."""
    days = [(_yesterday() - pd.Timedelta(days=n)).date().isoformat() for n in (4, 3, 2)]
    selection = [k for k in ("snapshot_partitions", "analyst_report") if k in project_nodes]
    data = ui_server.graphql(LAUNCH_BACKFILL, {"params": {
        "partitionNames": days,
        "assetSelection": [{"path": k.split("/")} for k in selection],
        "title": "UI test: three past days",
    }})["launchPartitionBackfill"]
    assert data["__typename"] == "LaunchBackfillSuccess", data
    partition = _nightly_partition(ui_server)
    nightly = _launch(ui_server, ui_server.project_location, spec.NIGHTLY_JOB,
                      None if ui_server.lms_api_url else runnable_keys, {"dagster/partition": partition})
    failing = _launch(ui_server, FAILING_LOCATION, "ui_failing_check_job", None, {})
    return {"backfill": (data["backfillId"], days, selection), "nightly": (nightly, partition), "failing": failing}


def test_graph_holds_the_expected_keys_and_edges(project_nodes, launched):
    loaded = set(project_nodes)
    expected = spec.expected_keys_present(loaded)
    assert expected and set(expected) <= loaded, sorted(set(expected) - loaded)
    parents = {k: {"/".join(d["path"]) for d in n["dependencyKeys"]} for k, n in project_nodes.items()}
    for key, expected_spec in expected.items():
        assert project_nodes[key]["groupName"] == expected_spec.group, key
    missing = sorted(edge for edge in spec.expected_edges(loaded) if edge[0] not in spec.ancestors(parents, edge[1]))
    assert not missing, f"(upstream, asset) lineage missing in the UI: {missing}"
    assert loaded >= set(spec.EXPECTED_ASSETS), sorted(set(spec.EXPECTED_ASSETS) - loaded)


def test_every_asset_is_documented_in_the_ui(project_nodes):
    for key, node in project_nodes.items():
        assert node["description"], key
        assert node["groupName"] and node["groupName"] != "default", key
        assert node["kinds"], key
        assert node["owners"], key
        assert node["opVersion"], key  # the code version
        has_policy = node["internalFreshnessPolicy"] is not None
        assert has_policy == (node["groupName"] in DASHBOARD_GROUPS), key
        if has_policy:
            assert node["internalFreshnessPolicy"]["failWindowSeconds"] == int(FAIL_WINDOW.total_seconds())
    report = project_nodes["analyst_report"]
    assert report["groupName"] == "reporting" and set(report["kinds"]) == {"plotly", "html"}


def test_launching_the_nightly_job_succeeds(ui_server, launched):
    run_id, partition = launched["nightly"]
    status = _wait_for_run(ui_server, run_id)
    assert status == "SUCCESS", (_step_failures(ui_server, run_id), ui_server.log_tail())
    report = ui_server.reports_dir / f"analyst_report_{partition}.html"
    assert report.exists() and (ui_server.reports_dir / "latest.html").exists()
    assert "Pipeline health" in report.read_text(encoding="utf-8")


def test_a_failing_blocking_check_shows_as_failed(ui_server, launched):
    run_id = launched["failing"]
    status = _wait_for_run(ui_server, run_id)
    assert status == "FAILURE"  # a failed blocking check fails its step
    checks = ui_server.graphql(CHECK_STATUS, {"key": {"path": ["ui_check_probe"]}})["assetNodes"][0]
    [check] = checks["assetChecksOrError"]["checks"]
    assert check["name"] == "ui_probe_always_fails" and check["blocking"]
    assert check["executionForLatestMaterialization"]["status"] == "FAILED"
    assert check["executionForLatestMaterialization"]["runId"] == run_id


def test_a_three_day_backfill_completes(ui_server, launched):
    backfill_id, days, selection = launched["backfill"]
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while True:
        state = ui_server.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if state["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"backfill still {state['status']} after {BACKFILL_TIMEOUT} s\n{ui_server.log_tail()}"
        time.sleep(2)
    runs = ui_server.graphql(BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"]
    assert state["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (state, runs)
    assert sorted(state["partitionNames"]) == days
    partitions = {t["value"] for r in runs for t in r["tags"] if t["key"] == "dagster/partition"}
    assert partitions == set(days) and all(r["status"] == "SUCCESS" for r in runs)
    for day in days:
        if "analyst_report" in selection:
            assert (ui_server.reports_dir / f"analyst_report_{day}.html").exists()
    # the backfill of older days ran beside the nightly run of the newest day: latest.html is the newest
    nightly_id, newest = launched["nightly"]
    assert _wait_for_run(ui_server, nightly_id) == "SUCCESS"
    assert newest > max(days)
    assert (ui_server.reports_dir / "latest.html").read_bytes() == \
        (ui_server.reports_dir / f"analyst_report_{newest}.html").read_bytes()
