"""The CLI ends bad configuration with one clear message, not a traceback."""
import os
import subprocess
import sys

from analytics_pipeline.settings import PROJECT_ROOT


def _cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "analytics_pipeline.cli", *args], cwd=PROJECT_ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_wrong_database_url_is_one_clear_error():
    result = _cli("migrate", DATABASE_URL="postgresql://app:hunter2@127.0.0.1:1/warehouse")
    assert result.returncode == 2
    assert result.stderr.startswith("error: Cannot connect to the warehouse")
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_migrate_reports_up_to_date_on_a_migrated_database(warehouse_url):
    result = _cli("migrate", DATABASE_URL=warehouse_url, DAGSTER_PG_URL="postgresql+psycopg2://unused/none")
    assert result.returncode == 0, result.stderr
    assert "none (up to date)" in result.stdout


def test_env_lists_every_variable_and_hides_secrets():
    result = _cli("env", LMS_API_TOKEN="very-secret", XAPI_LRS_PASSWORD="lrs-secret")
    assert result.returncode == 0
    assert "LMS_API_TOKEN" in result.stdout and "very-secret" not in result.stdout
    assert "XAPI_LRS_PASSWORD" in result.stdout and "lrs-secret" not in result.stdout
    assert "DATABASE_URL" in result.stdout
