"""One Dagster instance per warehouse: two warehouses on one server get two storage databases,
and every run carries the warehouse it wrote to (run tag ``analytics_pipeline/warehouse``)."""
from __future__ import annotations

import uuid

import dagster as dg
import pytest
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator.base import SubmitRunContext

from analytics_pipeline.orchestration.warehouse_tag import WAREHOUSE_TAG, warehouse_tags
from analytics_pipeline.runtime import prepare_environment
from analytics_pipeline.settings import Settings
from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
from analytics_pipeline.warehouse.urls import dagster_database_for, make_url, warehouse_label


@dg.op
def _noop():
    return 1


@dg.job
def _tiny():
    _noop()


@pytest.fixture
def two_warehouses(pg_server_url, monkeypatch):
    names = [f"ap_wh{i}_{uuid.uuid4().hex[:8]}" for i in (1, 2)]
    urls = [ensure_database(pg_server_url, name) for name in names]
    for var in ("DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    yield urls
    make_engine.cache_clear()
    for name in names:
        drop_database(pg_server_url, dagster_database_for(ensure_database(pg_server_url, name)))
        drop_database(pg_server_url, name)


def _instance(storage_url: str):
    return dg.instance_for_test(overrides={
        "storage": {"postgres": {"postgres_url": storage_url}},
        "run_coordinator": {"module": "analytics_pipeline.orchestration.warehouse_tag",
                            "class": "WarehouseTaggingRunCoordinator"},
    })


def test_two_warehouses_on_one_server_show_only_their_own_runs(two_warehouses, monkeypatch):
    storage = {}
    for url in two_warehouses:
        environment = prepare_environment(Settings(database_url=url, dagster_pg_url=""), apply_migrations=False)
        storage[url] = environment.dagster_pg_url
        assert make_url(environment.dagster_pg_url).database == make_url(url).database + "_dagster"
    first, second = two_warehouses
    assert storage[first] != storage[second]

    monkeypatch.setenv("DATABASE_URL", first)  # the UI's process for the first warehouse
    with _instance(storage[first]) as instance:
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("test"), "__repository__"), "_tiny")
        run = instance.create_run_for_job(_tiny, remote_job_origin=origin)
        submitted = instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))
        assert submitted.tags[WAREHOUSE_TAG] == warehouse_label(first)
        assert instance.get_run_by_id(run.run_id).tags[WAREHOUSE_TAG] == warehouse_label(first)
        assert [r.run_id for r in instance.get_runs()] == [run.run_id]
    with _instance(storage[second]) as instance:
        assert instance.get_runs() == []  # the second warehouse's instance never sees it


def test_warehouse_label_has_no_credentials():
    label = warehouse_label("postgresql://alice:s3cret@db.example.org:6543/analytics")
    assert label == "db.example.org:6543/analytics" and "s3cret" not in label and "alice" not in label
    assert dagster_database_for("postgresql://h/" + "x" * 70) == "x" * 55 + "_dagster"


def test_jobs_carry_the_warehouse_tag(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/wh_one")
    assert warehouse_tags() == {WAREHOUSE_TAG: "127.0.0.1:5432/wh_one"}
    monkeypatch.delenv("DATABASE_URL")
    assert warehouse_tags() == {}


def test_cli_runs_of_the_jobs_show_on_their_runs_tab():
    """The UI's Runs tab of a job filters on `.dagster/repository=__repository__@<location>`; runs of
    `dagster job execute` (`make run`) only carry it because the jobs do."""
    import yaml

    from analytics_pipeline.orchestration.jobs import JOBS
    from analytics_pipeline.settings import PROJECT_ROOT

    entry = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    location = entry.get("location_name") or entry["module_name"]
    for job in JOBS:
        assert job.tags[".dagster/repository"] == f"__repository__@{location}", job.name
