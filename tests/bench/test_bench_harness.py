"""The benchmark harness end to end at a small custom scale (profile S shrunk to 1 000
learners, in_process executor, so it stays within a few minutes): no timing assertions, only
that every stage that ran is in the JSON, the ratios are computed and SQL equals pandas."""
from __future__ import annotations

import json
import uuid

import pytest

from analytics_pipeline.bench.harness import BenchOptions, run_bench
from analytics_pipeline.bench.report import START_MARK, END_MARK, markdown_table, update_readme
from analytics_pipeline.warehouse.engine import drop_database, ensure_database
from analytics_pipeline.warehouse.urls import dagster_storage_url


@pytest.fixture(scope="module")
def bench_results(pg_server_url, tmp_path_factory):
    storage = f"ap_bench_dagster_{uuid.uuid4().hex[:10]}"  # unique: test sessions may share a server
    url = ensure_database(pg_server_url, storage)
    # in_process executor: at this scale a step's own work is well under its process start-up
    results = run_bench(BenchOptions(profile="S", overrides={"learners": 1000, "organizations": 20},
                                     executor="in_process",
                                     results_dir=tmp_path_factory.mktemp("results"),
                                     dagster_pg_url=dagster_storage_url(url, storage), quiet=True))
    yield results
    drop_database(pg_server_url, storage)


@pytest.mark.db
def test_every_step_of_both_runs_is_in_the_json(bench_results):
    saved = json.loads(open(bench_results["results_file"]).read())
    assert saved["full"]["exit_code"] == 0 and saved["incremental"]["exit_code"] == 0
    for run in ("full", "incremental"):
        steps = saved[run]["steps"]
        assert steps, "the event log gave no steps"
        assert all(s["seconds"] is not None and s["status"] == "success" for s in steps)
        stage_names = {row["stage"] for row in saved["stages"]}
        if run == "full":
            assert all(any(s["step_key"] in name for name in stage_names) for s in steps)
    assert saved["full"]["run"]["seconds"] > 0
    assert saved["full"]["peak_rss"]["pipeline"]["rss_sum_mb"] > 0
    # the machine's load is recorded beside each run (a 2-core number means little without it)
    loads = {row["stage"]: row["value"] for row in saved["stages"] if row["stage"].startswith("machine load")}
    assert set(loads) == {"machine load during the full run", "machine load during the next day's run"}
    for run in ("full", "incremental"):
        sampled = saved[run]["peak_rss"]["pipeline"]
        assert sampled["load1_mean"] is not None and 0 <= sampled["load1_mean"] <= sampled["load1_max"]
    assert all(value.startswith("1-min load mean ") for value in loads.values())
    startups = {row["stage"]: row["value"] for row in saved["stages"] if row["stage"].startswith("step process start-up")}
    assert startups == {"step process start-up during the full run": "no step processes",  # in_process: none
                        "step process start-up during the next day's run": "no step processes"}


@pytest.mark.db
def test_ratios_are_computed(bench_results):
    stages = {row["stage"]: row for row in bench_results["stages"]}
    assert bench_results["copy_limit"] and all(v["seconds"] > 0 for v in bench_results["copy_limit"].values())
    assert bench_results["transfer_limit"]["learning-events"]["bytes"] > 0
    incremental = stages["incremental: next day"]
    assert incremental["ratio"] is not None and incremental["ratio"] > 0
    pandas_rows = [r for name, r in stages.items() if name.startswith("pandas: ")]
    assert len(pandas_rows) == 2 and all(r["ratio"] is not None for r in pandas_rows)
    extract = [r for name, r in stages.items() if name.startswith("sources: extract + load")]
    if any(r["limit"] and r["limit"].startswith("COPY ") for r in bench_results["stages"][:-1]):
        assert extract and extract[0]["ratio"] is not None
    table = markdown_table(bench_results)
    assert table.count("\n") >= len(bench_results["stages"]) + 1


@pytest.mark.db
def test_sql_alternative_equals_pandas(bench_results):
    for name in ("engagement", "performance"):
        entry = bench_results["in_database"][name]
        check = entry["check"]
        assert check["learners_compared"] > 0
        assert check["passed"], json.dumps(check, indent=1, default=str)[:3000]


@pytest.mark.db
def test_readme_section_is_replaced_between_markers(bench_results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# X\n\n## Performance\n\n{START_MARK}\nOLD-SECTION\n{END_MARK}\n\n## After\n")
    from pathlib import Path

    update_readme(Path(bench_results["results_file"]), readme)
    text = readme.read_text()
    assert "OLD-SECTION" not in text and "## After" in text and "| stage | seconds |" in text
    assert text.count(START_MARK) == 1 and "cores" in text


def test_the_results_keep_short_metadata_and_the_snapshot_steps_phase_seconds():
    from analytics_pipeline.bench.events import _short
    assert _short(3) and _short(0.5) and _short("full") and _short({"read": 1.2, "effects": 30.0})
    assert not _short("x" * 300) and not _short({"read": "slow"}) and not _short({str(k): 1 for k in range(21)})


def test_a_table_with_foreign_keys_is_also_compared_with_the_copy_that_checks_them():
    from analytics_pipeline.bench.report import build_stages
    step = {"step_key": "user_skills", "assets": ["user_skills"], "groups": ["sources"], "status": "success",
            "seconds": 30.0, "rows": 900_000, "start": 0.0, "end": 30.0}
    results = {"full": {"steps": [step]},
               "copy_limit": {"user_skills": {"rows": 900_000, "seconds": 15.0, "seconds_with_keys": 24.0}}}
    row = next(r for r in build_stages(results) if r["stage"] == "sources: user_skills")
    assert row["ratio"] == 2.0 and row["ratio_vs_copy_with_keys"] == 1.25
    assert "1.25x COPY with its foreign keys" in markdown_table({"stages": [row]})
    del results["copy_limit"]["user_skills"]["seconds_with_keys"]  # a table without keys: no second ratio
    assert "ratio_vs_copy_with_keys" not in next(r for r in build_stages(results) if r["stage"] == "sources: user_skills")
