"""`analytics-pipeline run` (what `make run` calls) against the OULAD 2013 replay at 25 % of 2013J:
real learners through the contract, a sparse platform (no skills, user skills, results,
preferences or deletions). The run exits 0 with every asset materialized and every check
evaluated, none of severity ERROR failing; drop-off risk is the validated model with its evaluation."""
import dagster as dg
import pytest
import sqlalchemy as sa

from analytics_pipeline.sandbox import start_in_thread
from analytics_pipeline.sandbox.replay import ReplayPlatform
from analytics_pipeline.settings import reference_file
from tests.e2e.cli_run import cli_pipeline
from tests.ui.graph_snapshot import load_definitions

pytestmark = pytest.mark.slow  # a whole nightly: run once in CI (not again in the PostgreSQL 15 pass)

TOKEN = "replay-token"


@pytest.fixture(scope="module")
def replay_run(pg_server_url, tmp_path_factory, monkeypatch_module):
    sandbox = start_in_thread(ReplayPlatform(reference_file("data/oulad-2013"), "2013J:0.25", "auto"), token=TOKEN)
    with cli_pipeline(pg_server_url, tmp_path_factory.mktemp("dagster_home"), sandbox.url, TOKEN,
                      "in_process", "ap_replay") as pipeline:
        done = pipeline.run()
        monkeypatch_module.setenv("DAGSTER_PG_URL", pipeline.storage)  # read by the home's dagster.yaml
        instance = dg.DagsterInstance.from_config(pipeline.home)
        yield {"done": done, "engine": pipeline.engine, "instance": instance, "sandbox": sandbox}
        instance.dispose()
    sandbox.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_nightly_on_the_replay_exits_0_with_every_asset_and_check(replay_run):
    done, instance = replay_run["done"], replay_run["instance"]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    [run] = instance.get_runs(limit=1)
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == "2025-12-06"
    graph = load_definitions().resolve_asset_graph()
    assets = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    checks = set(graph.asset_check_keys)
    materialized = {r.event_log_entry.dagster_event.asset_key for r in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000).records}
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000).records]
    assert assets - materialized == set()
    assert checks - {e.asset_check_key for e in evaluations} == set()
    failed = [e.asset_check_key.to_user_string() for e in evaluations
              if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert failed == []
    for e in evaluations:  # warnings are reported, not fatal (a sparse platform has few results)
        if not e.passed:
            print(f"\nwarning {e.asset_check_key.to_user_string()}: "
                  f"{ {k: getattr(v, 'value', v) for k, v in e.metadata.items()} }")


def test_drop_off_on_real_learners_is_the_validated_model(replay_run):
    engine = replay_run["engine"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select count(*), count(*) filter (where data->>'risk_level' = 'high' and confidence_score < 60), "
            "min(data->>'method'), max(data->>'method'), min(confidence_score) from predictive_analytics_cache "
            "where analytics_type = 'drop_off_risk'")).one()
        forecasts_after_the_end = conn.execute(sa.text("""
            select count(*) from predictive_analytics_cache c, jsonb_array_elements(c.data->'enrollments') e
            join courses k on k.id = e->>'course_id'
            where c.analytics_type = 'forecast' and (e->>'latest')::timestamptz > k.ends_at""")).scalar_one()
        counts = {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                  for t in ("user_skills", "assessment_results", "user_preferences")}
    count, high_unsure, method_min, method_max, confidence = rows
    assert count > 7000 and high_unsure == 0
    assert method_min == method_max == "model" and confidence > 70
    assert forecasts_after_the_end == 0
    assert counts == {"user_skills": 0, "assessment_results": 0, "user_preferences": 0}
