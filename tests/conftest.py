"""Shared fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), a throw-away migrated
warehouse database per test session, and a Dagster instance on Postgres storage.

Tests that touch the database are marked ``db`` automatically (CI runs them a second time
against the machine's PostgreSQL 15)."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

# The tests materialize fixed historical days (2025-03-12, 2026-01-15, ...): pin the first daily
# partition before anything imports orchestration.partitions (subprocesses inherit it; the UI
# tests' webserver drops it to show the real default).
os.environ.setdefault("PARTITIONS_START", "2025-01-01")

from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.warehouse.embedded import start_embedded
from analytics_pipeline.warehouse.engine import drop_database, ensure_database, make_engine
from analytics_pipeline.warehouse.migrate import migrate
from analytics_pipeline.warehouse import urls
from analytics_pipeline.warehouse.urls import dagster_storage_url

DB_FIXTURES = {"pg_server_url", "warehouse_url", "engine", "clean_warehouse", "dagster_instance", "fresh_database_url"}
# Data kept by truncation: catalogs seeded by migrations.
SEEDED_TABLES = {"achievements", "skills", "pipeline_settings"}
#: the settings the migrations seed; any other key is state a run wrote (e.g. the gamification's as-of)
SEEDED_SETTINGS = ("k_anonymity", "leaderboard_salt", "erasure_salt")
#: achievement catalog entries tests add (tests/governance/people.py): an earned achievement of a
#: test's catalog would otherwise show up in a later test's earned set
TEST_ACHIEVEMENTS = ("gov-test",)


def pytest_collection_modifyitems(items):
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the PostgreSQL server the tests create their databases on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return urls.warehouse_url(url).render_as_string(hide_password=False)  # not the fixture below
    return start_embedded(PROJECT_ROOT / os.environ.get("PGDATA_DIR", ".pgdata"))


@pytest.fixture
def fresh_database_url(pg_server_url):
    """An empty database (not migrated), dropped afterwards."""
    name = f"ap_fresh_{uuid.uuid4().hex[:10]}"
    url = ensure_database(pg_server_url, name)
    yield url
    make_engine.cache_clear()
    drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def warehouse_url(pg_server_url):
    """A migrated warehouse database for this test session; DATABASE_URL points at it."""
    name = f"ap_test_{uuid.uuid4().hex[:10]}"
    url = ensure_database(pg_server_url, name)
    migrate(url)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous
    make_engine(url).dispose()
    make_engine.cache_clear()
    drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def engine(warehouse_url) -> sa.Engine:
    return make_engine(warehouse_url)


def truncate_all(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        tables = conn.execute(sa.text(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition "
            "and c.relname not like '\\_yoyo%' and c.relname <> 'yoyo_lock'"
        )).scalars().all()
        wiped = [t for t in tables if t not in SEEDED_TABLES]
        conn.execute(sa.text("truncate " + ", ".join(f'"{t}"' for t in wiped) + " cascade"))
        # the seeded settings stay (k, salts); state a run wrote there goes (the gamification's as-of)
        conn.execute(sa.text("delete from pipeline_settings where key <> all(:seeded)"), {"seeded": list(SEEDED_SETTINGS)})
        # skills seeded by the migration stay; skills loaded by a test go
        conn.execute(sa.text("delete from skills where id not like 'skill-%'"))
        # the achievement catalog of migration 0002 stays; an entry a test added goes (governance's 'gov-test')
        conn.execute(sa.text("delete from achievements where id = any(:added)"), {"added": list(TEST_ACHIEVEMENTS)})
        # materialized views keep what earlier tests refreshed into them: empty them too
        views = conn.execute(sa.text("select matviewname from pg_matviews where schemaname = 'public'")).scalars().all()
        for view in views:
            conn.execute(sa.text(f'refresh materialized view "{view}"'))


@pytest.fixture
def clean_warehouse(engine) -> sa.Engine:
    """The session's warehouse, emptied of data (seeded catalogs kept) before the test."""
    truncate_all(engine)
    return engine


@pytest.fixture(scope="session")
def dagster_instance(pg_server_url):
    """A Dagster instance whose run and event storage is PostgreSQL (a throw-away database)."""
    import dagster as dg

    name = f"ap_dagster_{uuid.uuid4().hex[:10]}"
    url = ensure_database(pg_server_url, name)
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": dagster_storage_url(url, name)}}}) as instance:
        yield instance
    drop_database(pg_server_url, name)
