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
    import playwright.sync_api as playwright_api  # installed by the dev extra; the browser by ensure_chromium()
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
    # the project's code location only: the screenshot is the README's, without the test-only location
    page.locator(".CodeMirror, .cm-editor").first.click()
    page.keyboard.type(f'code_location:"{ui_server.project_location}"')
    page.keyboard.press("Enter")
    groups = _loaded_groups(ui_server)
    for group in sorted(groups):
        page.get_by_text(group, exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert groups <= set(text.split("\n"))
    expected_groups = {s.group for k, s in spec.EXPECTED_ASSETS.items()}
    assert groups & expected_groups
    assert "ui_test_only" not in text.split("\n")  # tests/ui/failing_location.py's group is filtered out
    _shot(page, "global-lineage.png")


def _upstream_of(ui_server, key: str) -> set[str]:
    node = ui_server.graphql('query($k: [AssetKeyInput!]) { assetNodes(assetKeys: $k) { dependencyKeys { path } } }',
                             {"k": [{"path": [key]}]})["assetNodes"][0]
    return {"/".join(d["path"]) for d in node["dependencyKeys"]}


def _shown_as(label: str, name: str) -> bool:
    """Whether a graph node label shows ``name``: in full, or middle-truncated as the zoomed-out
    graph of a big lineage draws long names (``snapsh…_partitions``)."""
    if label == name:
        return True
    head, sep, tail = label.partition("…")
    return bool(sep) and len(head) >= 3 and len(tail) >= 3 and name.startswith(head) and name.endswith(tail)


def test_asset_lineage_shows_upstream_assets(ui_server, page):
    upstream = _upstream_of(ui_server, "analyst_report")
    assert "snapshot_partitions" in upstream
    page.goto(f"{ui_server.url}/assets/analyst_report?view=lineage&lineageScope=upstream&lineageDepth=2",
              wait_until="domcontentloaded")
    # With the whole graph upstream the lineage is drawn zoomed out: long names are middle-truncated.
    page.get_by_text(re.compile(r"^snaps\w*…?\w*_partitions$")).first.wait_for()
    page.wait_for_load_state("networkidle")
    labels = [line.strip() for line in page.inner_text("body").split("\n") if line.strip()]
    assert "analyst_report" in labels
    missing = sorted(name for name in upstream if not any(_shown_as(label, name) for label in labels))
    assert not missing, f"upstream assets not drawn in the lineage: {missing}"
    _shot(page, "asset-lineage.png")


def _nightly_report(ui_server):
    """The nightly run's report (test_webserver_graphql.py launched it; launched here if it did not)."""
    from tests.ui import expected_graph as graph_spec
    from tests.ui.test_webserver_graphql import _launch, _nightly_partition, _wait_for_run

    partition = _nightly_partition(ui_server)
    report = ui_server.reports_dir / f"analyst_report_{partition}.html"
    if not report.exists():
        run_id = _launch(ui_server, ui_server.project_location, graph_spec.NIGHTLY_JOB, None, {"dagster/partition": partition})
        assert _wait_for_run(ui_server, run_id) == "SUCCESS", ui_server.log_tail()
    return report


def test_asset_page_shows_description_group_and_kinds(ui_server, page):
    _nightly_report(ui_server)  # so the page shows the latest materialization's summary
    page.goto(f"{ui_server.url}/assets/analyst_report", wait_until="domcontentloaded")
    page.get_by_text("Self-contained HTML report", exact=False).first.wait_for()
    page.get_by_text("Upstream assets", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    more = page.get_by_text(re.compile(r"^Show \d+ more$"))
    page.get_by_text("snapshot_partitions", exact=True).or_(more).first.wait_for()
    if more.count():  # the report depends on the whole graph: the list shows the first 20 until expanded
        more.first.click()
    page.get_by_text("snapshot_partitions", exact=True).first.wait_for()
    text = page.inner_text("body")
    assert "analyst_report" in text
    for word in ("reporting", "html", "plotly", "analytics", "nightly", "Upstream assets", "snapshot_partitions"):
        assert word in text, word
    _shot(page, "asset-analyst-report.png")


def test_the_report_summary_is_reachable_from_the_ui(ui_server, page):
    """The report's key figures are the materialization's Markdown `summary`, on the asset's
    Events page (a file:// link cannot be opened from the UI)."""
    _nightly_report(ui_server)
    page.goto(f"{ui_server.url}/assets/analyst_report?view=events", wait_until="domcontentloaded")
    page.get_by_text("summary", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert "Learners at high risk of dropping off" in text or "[Show more]" in text or "Show more" in text
    _shot(page, "asset-report-summary.png")


def test_column_descriptions_show_on_a_published_table(ui_server, page):
    page.goto(f"{ui_server.url}/assets/engagement_analytics", wait_until="domcontentloaded")
    page.get_by_text("Columns", exact=False).first.wait_for()
    page.get_by_text("0-100: session frequency", exact=False).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert "Sessions (30-minute gap rule)" in page.inner_text("body")
    _shot(page, "asset-columns.png")


def test_the_report_in_a_browser(ui_server, page):
    """The nightly's report opened in Chromium: the at-risk section, no activity apart, shares,
    the charts drawn (plotly.js inlined, offline)."""
    report = _nightly_report(ui_server)
    page.goto(report.resolve().as_uri(), wait_until="load")
    page.get_by_text("Learners at risk of dropping off", exact=True).first.wait_for()
    text = page.inner_text("body")
    for heading in ("Engagement scores per organisation", "Velocity status per organisation", "Pipeline health",
                    f"Rows per table on {report.stem.removeprefix('analyst_report_')}"):
        assert heading in text, heading
    assert "learners with a drop-off prediction are at high risk" in text or "No drop-off prediction" in text
    assert page.locator(".plot-container").count() >= 1  # plotly drew at least one chart
    page.set_viewport_size({"width": 1200, "height": 1800})
    _shot(page, "analyst-report.png")
    page.set_viewport_size({"width": 1600, "height": 1000})


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
