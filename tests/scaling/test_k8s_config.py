"""The Kubernetes configuration under deploy/k8s/, validated with Dagster's own config schemas
(there is no cluster here): the instance, the K8sRunLauncher, the k8s_job_executor run config,
the Helm values' run launcher block, and the per-step resource tags of heavy steps."""
from __future__ import annotations

import re
import shutil

import pytest
import yaml
from dagster._config import process_config, validate_config

from analytics_pipeline.orchestration import executors
from analytics_pipeline.orchestration.pools import API_STEP_TAGS, HEAVY_STEP_TAGS
from analytics_pipeline.settings import ENVIRONMENT, PROJECT_ROOT
from tests.scaling.services import ensure_package

K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
SECRET_VARIABLES = {"DATABASE_URL", "DAGSTER_PG_URL", "LMS_API_TOKEN", "ALERT_WEBHOOK_URL"}


@pytest.fixture(scope="module")
def dagster_k8s():
    return ensure_package("dagster_k8s", "dagster-k8s>=0.29,<0.30")  # the `k8s` extra


def _load(name: str) -> dict:
    return yaml.safe_load((K8S_DIR / name).read_text())


def _ok(config_type, value):
    result = validate_config(config_type, value)
    assert result.success, [e.message for e in result.errors]
    return process_config(config_type, value).value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_instance_yaml_is_valid(dagster_k8s, tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(K8S_DIR / "dagster-instance.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    processed = _ok(dagster_k8s.K8sRunLauncher.config_type(), launcher["config"])
    assert processed["env_secrets"] == ["analytics-pipeline-secrets"]
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert config["concurrency"]["pools"]["granularity"] == "op"


def test_the_run_config_selects_the_k8s_job_executor(dagster_k8s):
    execution = _load("run_config.yaml")["execution"]["config"]
    _ok(dagster_k8s.k8s_job_executor.config_schema.config_type, execution["executor"]["k8s"])
    processed = _ok(executors.select_executor("k8s").config_schema.config_type, execution)
    assert list(processed["executor"]) == ["k8s"]
    assert processed["executor"]["k8s"]["step_k8s_config"]["container_config"]["resources"]["requests"]["memory"] == "1Gi"


def test_the_helm_values_render_a_valid_run_launcher(dagster_k8s):
    values = _load("values.yaml")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    chart = values["runLauncher"]["config"]["k8sRunLauncher"]
    # the chart writes these keys in snake_case into the instance, names of ConfigMaps/Secrets as strings
    rendered = {
        _snake(key): ([item["name"] for item in value] if key in ("envConfigMaps", "envSecrets") else value)
        for key, value in chart.items()
    }
    rendered["run_k8s_config"] = {_snake(k): v for k, v in rendered["run_k8s_config"].items()}
    rendered |= {"instance_config_map": "dagster-instance", "dagster_home": "/opt/dagster/dagster_home"}  # set by the chart
    _ok(dagster_k8s.K8sRunLauncher.config_type(), rendered)
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "analytics_pipeline.definitions"]
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["service"]["port"] == 5432


def test_secrets_come_from_kubernetes_secrets_only():
    text = (K8S_DIR / "values.yaml").read_text() + (K8S_DIR / "dagster-instance.yaml").read_text()
    assert SECRET_VARIABLES <= set(ENVIRONMENT)
    for name in SECRET_VARIABLES:  # named in the secret's documentation, never given a value in the files
        assert not re.search(rf"^\s*{name}\s*:", text, re.M)
        assert not re.search(rf"name:\s*{name}\s*\n\s*value:", text)
    assert "analytics-pipeline-secrets" in text


@pytest.mark.parametrize("tags", [HEAVY_STEP_TAGS, API_STEP_TAGS])
def test_step_tags_are_valid_dagster_k8s_config(dagster_k8s, tags):
    import dagster as dg
    from dagster_k8s.job import get_user_defined_k8s_config

    @dg.asset(op_tags=tags)
    def heavy_step() -> None: ...

    user_config = get_user_defined_k8s_config(heavy_step.op.tags)  # as the k8s executor reads a step's tags
    resources = user_config.container_config["resources"]
    assert resources["requests"]["memory"].endswith("Gi")
