"""The Dagster UI in a real browser: Debian's headless Chromium driven by Playwright opens the
asset lineage and an asset's page on the shared test webserver, asserts what a person would see,
and saves screenshots to docs/screenshots/ (embedded in docs/ui.md)."""
from __future__ import annotations

import re

import pytest

from analytics_pipeline.orchestration.browser import CHROMIUM_ARGS, ensure_chromium
from analytics_pipeline.settings import PROJECT_ROOT
from tests.ui import expected_graph as spec

pytestmark = pytest.mark.slow

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def page(ui_server):
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = ensure_chromium()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True, args=list(CHROMIUM_ARGS))
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        context.close()
        browser.close()


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def _loaded_groups(ui_server) -> set[str]:
    nodes = ui_server.graphql("query { assetNodes { groupName repository { location { name } } } }")["assetNodes"]
    return {n["groupName"] for n in nodes if n["repository"]["location"]["name"] == ui_server.project_location}


def test_global_lineage_shows_every_group(ui_server, page):
    page.goto(f"{ui_server.url}/asset-groups", wait_until="domcontentloaded")
    page.get_by_text("Global asset lineage").first.wait_for()
    groups = _loaded_groups(ui_server)
    for group in sorted(groups):
        page.get_by_text(group, exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert groups <= set(text.split("\n"))
    expected_groups = {s.group for k, s in spec.EXPECTED_ASSETS.items()}
    assert groups & expected_groups
    _shot(page, "global-lineage.png")


def test_asset_lineage_shows_upstream_assets(ui_server, page):
    page.goto(f"{ui_server.url}/assets/analyst_report?view=lineage&lineageScope=upstream&lineageDepth=2",
              wait_until="domcontentloaded")
    page.get_by_text("snapshot_partitions", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert "analyst_report" in text and "snapshot_partitions" in text
    _shot(page, "asset-lineage.png")


def test_asset_page_shows_description_group_and_kinds(ui_server, page):
    page.goto(f"{ui_server.url}/assets/analyst_report", wait_until="domcontentloaded")
    page.get_by_text("Self-contained HTML report", exact=False).first.wait_for()
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert "analyst_report" in text
    for word in ("reporting", "html", "plotly", "analytics", "nightly", "Upstream assets", "snapshot_partitions"):
        assert word in text, word
    _shot(page, "asset-analyst-report.png")


def test_failed_check_shows_on_the_checks_tab(ui_server, page):
    """After test_webserver_graphql.py ran the test-only failing check (run here if it did not)."""
    from tests.ui.test_webserver_graphql import _launch, _wait_for_run
    from tests.ui.conftest import FAILING_LOCATION

    latest = ui_server.graphql(
        'query { assetNodes(assetKeys: [{path: ["ui_check_probe"]}]) { assetChecksOrError { ... on AssetChecks '
        '{ checks { executionForLatestMaterialization { status } } } } } }')["assetNodes"][0]
    if not latest["assetChecksOrError"]["checks"][0]["executionForLatestMaterialization"]:
        _wait_for_run(ui_server, _launch(ui_server, FAILING_LOCATION, "ui_failing_check_job", None, {}))
    page.goto(f"{ui_server.url}/assets/ui_check_probe?view=checks", wait_until="domcontentloaded")
    page.get_by_text("ui_probe_always_fails", exact=True).first.wait_for()
    page.get_by_text(re.compile(r"^Failed$")).first.wait_for()
    page.wait_for_load_state("networkidle")
    _shot(page, "failed-check.png")
