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


def _without_database_url(**extra):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return {**env, **extra}


def _run_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "analytics_pipeline.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_stop_stops_the_embedded_server_and_says_when_none_runs(tmp_path):
    """`make stop` on a throw-away embedded data folder: the postmaster is gone afterwards, and a
    second stop says nothing runs (exit 0 both times)."""
    import psutil

    env = _without_database_url(PGDATA_DIR=str(tmp_path / "pgdata"))
    started = _run_cli(env, "db-url")
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    assert psutil.pid_exists(pid)
    stopped = _run_cli(env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"pid {pid}" in stopped.stdout and "Stopped" in stopped.stdout
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    again = _run_cli(env, "stop")
    assert again.returncode == 0 and "No embedded PostgreSQL is running" in again.stdout


def test_stop_with_a_database_url_touches_nothing():
    result = _cli("stop", DATABASE_URL="postgresql://app@127.0.0.1:1/warehouse")
    assert result.returncode == 0 and "nothing to stop" in result.stdout


def test_a_failed_nightly_run_still_applies_retention_and_erasure(clean_warehouse, warehouse_url, pg_server_url):
    """``run`` has no daemon (no legal_duties sensor): a nightly that fails (the API is unreachable) is
    followed by the legal_duties job for the same day."""
    import uuid

    import sqlalchemy as sa

    from analytics_pipeline.warehouse.engine import drop_database, ensure_database
    from analytics_pipeline.warehouse.urls import dagster_storage_url

    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("insert into users (id, email) values ('keep', 'k@x'), ('gone', 'g@x')"))
        conn.execute(sa.text("insert into learning_events (id, user_id, event_type, occurred_at, updated_at) "
                             "values ('old', 'keep', 'started', '2025-01-01', '2025-01-01')"))
        conn.execute(sa.text("insert into erasure_requests (user_id) values ('gone')"))
    name = f"ap_dagster_cli_{uuid.uuid4().hex[:8]}"
    storage = ensure_database(pg_server_url, name)
    try:
        result = _cli("run", "--partition", "2025-06-01", DATABASE_URL=warehouse_url,
                      DAGSTER_PG_URL=dagster_storage_url(storage), LMS_API_URL="http://127.0.0.1:9",
                      LMS_MAX_RETRY_SECONDS="1", DAGSTER_EXECUTOR="in_process")
    finally:
        drop_database(pg_server_url, name)
    assert result.returncode != 0
    assert "running 'legal_duties'" in result.stderr and "legal_duties succeeded" in result.stderr
    with clean_warehouse.connect() as conn:
        users = conn.execute(sa.text("select id from users")).scalars().all()
        events = conn.execute(sa.text("select count(*) from learning_events")).scalar_one()
    assert users == ["keep"] and events == 0  # erased, and the 90-day activity limit applied at 2025-06-02
