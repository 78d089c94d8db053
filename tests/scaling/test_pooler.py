"""The warehouse through a transaction-mode PgBouncer: psycopg 3's auto-prepare would break there,
the project's engines never prepare, and the whole nightly job runs through the pooler (Dagster's
own storage stays on its direct URL)."""
from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import psycopg
import pytest
import sqlalchemy as sa

from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.bulk import read_arrow, read_copy
from analytics_pipeline.warehouse.engine import make_engine
from analytics_pipeline.warehouse.urls import libpq_url
from tests.scaling import services
from tests.scaling.conftest import subprocess_env

STATEMENT = "select count(*) from pg_class where relname = %s"
REPEAT = 12  # > psycopg's default prepare_threshold (5)


def _stats(pooler, database: str) -> dict:
    return next(row for row in pooler.admin("SHOW STATS") if row["database"] == database)


def test_the_pooler_is_in_transaction_mode(pooler):
    config = {row["key"]: row["value"] for row in pooler.admin("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert config.get("max_prepared_statements", "0") == "0"


def test_psycopg_auto_prepare_breaks_behind_the_pooler(pooler):
    """Two clients share one server connection. With psycopg's default (prepare after 5 runs) the
    first client leaves `_pg3_0` prepared on the server; the second, preparing its own `_pg3_0`,
    collides. This is the failure prepare_threshold=None prevents."""
    url = libpq_url(pooler.url_for("prepare_demo"))
    with psycopg.connect(url, autocommit=True) as first, psycopg.connect(url, autocommit=True) as second:
        assert first.prepare_threshold == 5  # psycopg's default
        for _ in range(REPEAT):
            first.execute(STATEMENT, ("users",))
        with pytest.raises((psycopg.errors.DuplicatePreparedStatement, psycopg.errors.InvalidSqlStatementName)):
            for _ in range(REPEAT):
                second.execute(STATEMENT, ("users",))
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as cleanup:
        cleanup.execute("deallocate all")


def test_the_project_engine_never_prepares_behind_the_pooler(pooler):
    engine = make_engine(pooler.url_for("prepare_demo"))
    try:
        with engine.connect() as first, engine.connect() as second:
            assert first.connection.driver_connection.prepare_threshold is None
            assert second.connection.driver_connection.prepare_threshold is None
            for _ in range(REPEAT):  # interleaved, one server connection, more than 5 runs each
                for conn in (first, second):
                    assert conn.execute(sa.text("select count(*) from pg_class where relname = :n"), {"n": "users"}).scalar_one() == 1
                    conn.commit()
            prepared = first.execute(sa.text("select count(*) from pg_prepared_statements")).scalar_one()
            assert prepared == 0
    finally:
        engine.dispose()
    assert int(_stats(pooler, "prepare_demo")["total_xact_count"]) >= 2 * REPEAT


def test_arrow_reads_import_the_callers_snapshot_behind_the_pooler(pooler, clean_warehouse):
    """bulk.read_arrow's own connection goes through the pooler too (ADBC, no named prepared
    statements) and still reads the snapshot of the caller's transaction: a row committed by
    another session after a REPEATABLE READ snapshot is not read, a new transaction reads it."""
    engine = make_engine(pooler.url_for(clean_warehouse.url.database))
    count = "select count(*) as n from users"
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            assert read_arrow(conn, count)["n"].tolist() == [0]
            with engine.begin() as other:
                other.execute(sa.text("insert into users (id, email, created_at) values ('p1', 'p@x.org', now())"))
            assert read_arrow(conn, count)["n"].tolist() == [0] == read_copy(conn, count)["n"].tolist()
        with engine.connect() as conn:
            assert read_arrow(conn, count)["n"].tolist() == [1]
    finally:
        engine.dispose()


def test_arrow_reads_never_depend_on_one_server_connection_between_round_trips(pg_server_url, clean_warehouse):
    """Outside a transaction a transaction-mode PgBouncer may hand each round trip to another
    server connection. ADBC prepares a statement (unnamed) and describes it in two round trips:
    a read that began its transaction with such a statement failed ("unnamed prepared statement
    does not exist") when the pool moved it, as a busy nightly's pool does by chance. Here the
    pooler moves every round trip (server_round_robin) over two warm server connections."""
    database = clean_warehouse.url.database
    with services.pgbouncer(pg_server_url, demo_database=database, pool_size=2, round_robin=True) as bouncer:
        engine = make_engine(bouncer.url_for(database))
        try:
            with engine.connect() as a, engine.connect() as b:  # two server connections in the pool
                a.execute(sa.text("select 1"))
                b.execute(sa.text("select 1"))
                a.commit()
                b.commit()
            for isolation in ("REPEATABLE READ", "AUTOCOMMIT"):  # a shared snapshot, and none
                with engine.connect().execution_options(isolation_level=isolation) as conn:
                    for _ in range(6):
                        assert read_arrow(conn, "select count(*) as n from skills")["n"].tolist() == [5]
        finally:
            engine.dispose()


def test_the_nightly_job_runs_through_the_pooler(pooler, warehouse_url, scaling_home, scaling_instance, lms_sandbox):
    """`make run`'s own path (dagster job execute, the multiprocess executor) with DATABASE_URL on
    the pooler; Dagster's storage on its direct DAGSTER_PG_URL; the sources read the sandbox LMS."""
    database = sa.engine.make_url(warehouse_url).database
    pooled = pooler.url_for(database)
    before = int(_stats(pooler, database)["total_xact_count"]) if any(
        r["database"] == database for r in pooler.admin("SHOW STATS")) else 0
    partition = lms_sandbox.partition
    env = subprocess_env(DATABASE_URL=pooled, DAGSTER_HOME=str(scaling_home), DAGSTER_EXECUTOR="multiprocess")
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "analytics_pipeline.definitions", "-j", "nightly",
         "--tags", json.dumps({"dagster/partition": partition})],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,  # the full graph, 2 cores
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = scaling_instance.get_runs(dg.RunsFilter(job_name="nightly", tags={"dagster/partition": partition}))
    assert runs and runs[0].status == dg.DagsterRunStatus.SUCCESS
    starts = scaling_instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED)
    assert starts  # the multiprocess executor started step processes
    after = int(_stats(pooler, database)["total_xact_count"])
    assert after > before  # the steps' transactions went through PgBouncer
