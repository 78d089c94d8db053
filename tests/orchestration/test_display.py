"""The run display reads a real run's records from Dagster's event log (PostgreSQL storage):
lines per asset, a failed step with its error's first line and the asset's file, a failed check
with its description, the event log file with the full stack trace."""
import io

import dagster as dg
import pytest

from analytics_pipeline.orchestration.display import RunDisplay, describe_steps

CHECK_DESCRIPTION = "Fails when the widget count is odd (a probe check)."


@dg.asset(group_name="probe_sources", check_specs=[dg.AssetCheckSpec("even", asset="widgets", description=CHECK_DESCRIPTION)])
def widgets() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 41},
                                check_results=[dg.AssetCheckResult(check_name="even", passed=False)])


@dg.asset(group_name="probe_sources")
def gadgets() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 7})


@dg.asset(group_name="probe_analytics", deps=[widgets])
def broken_totals() -> None:
    raise ValueError("totals cannot be computed: no widgets table\nsecond line of the message")


@dg.asset(group_name="probe_analytics", deps=[broken_totals])
def downstream_of_broken() -> None:
    pass


DEFS = dg.Definitions(assets=[widgets, gadgets, broken_totals, downstream_of_broken])


@pytest.fixture(scope="module")
def followed(dagster_instance, tmp_path_factory):
    steps, checks = describe_steps(DEFS.get_repository_def())
    out = io.StringIO()
    display = RunDisplay(dagster_instance, steps, checks, tmp_path_factory.mktemp("logs"), out=out)
    result = dg.materialize([widgets, gadgets, broken_totals, downstream_of_broken], instance=dagster_instance,
                            raise_on_error=False)
    display.finish(result.run_id)
    return display, out.getvalue(), display.summary("probe", None, {"widgets": 41, "gadgets": None})


def test_describe_steps_knows_groups_files_and_check_descriptions():
    steps, checks = describe_steps(DEFS.get_repository_def())
    assert steps["broken_totals"].group == "probe_analytics"
    assert steps["broken_totals"].source.startswith("tests/orchestration/test_display.py:")
    assert checks[("widgets", "even")] == CHECK_DESCRIPTION


def test_one_line_per_finished_asset_with_rows_and_checks(followed):
    display, printed, _ = followed
    widgets_line = next(line for line in printed.splitlines() if "widgets" in line)
    assert "probe_sources" in widgets_line and "41 rows" in widgets_line and "checks 0/1" in widgets_line
    assert "7 rows" in next(line for line in printed.splitlines() if "gadgets" in line)
    failed_line = next(line for line in printed.splitlines() if "broken_totals" in line)
    assert "FAILED" in failed_line and "totals cannot be computed" in failed_line
    assert "second line" not in printed
    assert display.status == "failed" and display.not_run == ["downstream_of_broken"]


def test_the_summary_names_the_failed_asset_error_file_check_and_log(followed):
    display, _, summary = followed
    text = "\n".join(summary)
    step = next(line for line in summary if "failed step" in line)
    assert "broken_totals" in step and "ValueError: totals cannot be computed: no widgets table" in step
    assert "tests/orchestration/test_display.py:" in summary[summary.index(step) + 1]
    check = next(line for line in summary if "failed check" in line)
    assert "widgets" in check and "even" in check and CHECK_DESCRIPTION in check
    assert display.run_id in text and "downstream_of_broken" in text
    assert "widgets 41" in text and "gadgets" not in next(line for line in summary if line.startswith("Rows:"))
    assert str(display.log_path.name) in text
    log = display.log_path.read_text()
    assert "STEP_FAILURE" in log and "Stack Trace" in log and "second line of the message" in log
