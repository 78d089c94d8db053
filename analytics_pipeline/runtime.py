"""Prepare the process environment for Dagster: warehouse URL, Dagster storage, DAGSTER_HOME.

``prepare_environment`` is what `make run`, `make ui` and `make migrate` do first: start the
embedded PostgreSQL when ``DATABASE_URL`` is unset, check the connection, apply migrations,
make sure Dagster's storage database exists, and export the variables Dagster reads.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from analytics_pipeline.settings import PROJECT_ROOT, Settings
from analytics_pipeline.warehouse.embedded import start_embedded
from analytics_pipeline.warehouse.engine import check_connection, ensure_database
from analytics_pipeline.warehouse.migrate import migrate
from analytics_pipeline.warehouse.urls import dagster_database_for, dagster_storage_url, redacted, warehouse_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Environment:
    database_url: str
    dagster_pg_url: str
    server_version: str
    embedded: bool
    migrations_applied: tuple[str, ...]


def resolve_database_url(settings: Settings) -> tuple[str, bool]:
    if settings.database_url:
        return warehouse_url(settings.database_url).render_as_string(hide_password=False), False
    return start_embedded(settings.pgdata_dir), True


def prepare_environment(settings: Settings, apply_migrations: bool = True) -> Environment:
    database_url, embedded = resolve_database_url(settings)
    version = check_connection(database_url)
    applied = tuple(migrate(database_url)) if apply_migrations else ()
    if settings.dagster_pg_url:
        dagster_url = settings.dagster_pg_url
    else:
        storage_db = ensure_database(database_url, dagster_database_for(database_url))
        dagster_url = dagster_storage_url(storage_db)
    os.environ["DATABASE_URL"] = database_url
    os.environ["DAGSTER_PG_URL"] = dagster_url
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    log.info("warehouse %s (PostgreSQL %s%s); Dagster storage %s", redacted(database_url), version,
             ", embedded" if embedded else "", redacted(dagster_url))
    return Environment(database_url, dagster_url, version, embedded, applied)
