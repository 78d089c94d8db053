"""SQLAlchemy engines on psycopg 3, safe behind a transaction-mode pooler (PgBouncer, Supabase).

psycopg 3 prepares a statement server-side after it ran a few times; under transaction pooling
the next transaction may land on another server connection where the prepared statement does
not exist. ``prepare_threshold=None`` turns automatic preparation off.
"""
from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics_pipeline.warehouse.errors import WarehouseError
from analytics_pipeline.warehouse.urls import libpq_url, redacted, warehouse_url, with_database


@lru_cache(maxsize=16)
def make_engine(url: str) -> Engine:
    """A pooled engine for ``url`` (cached per URL and process)."""
    return sa.create_engine(
        warehouse_url(url),
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=4,
        connect_args={"prepare_threshold": None, "connect_timeout": 10, "application_name": "analytics_pipeline"},
    )


def check_connection(url: str) -> str:
    """Connect once; return the server version, or raise a WarehouseError that says what to do."""
    try:
        with make_engine(url).connect() as conn:
            return conn.execute(sa.text("show server_version")).scalar_one()
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise WarehouseError(
            f"Cannot connect to the warehouse at {redacted(url)}: {reason}. "
            "Check DATABASE_URL (host, port, user, password, database) and that the server is running; "
            "unset DATABASE_URL to use the embedded PostgreSQL."
        ) from None


def ensure_database(server_url: str, database: str) -> str:
    """Create ``database`` on the server of ``server_url`` when missing; return its URL."""
    import psycopg

    try:
        with psycopg.connect(libpq_url(with_database(server_url, "postgres")), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(f'create database "{database}"')
    except psycopg.errors.InsufficientPrivilege:
        raise WarehouseError(
            f"The user of {redacted(server_url)} may not create the database {database!r}. "
            "Create it once by hand, or set its URL explicitly (DAGSTER_PG_URL for Dagster's storage)."
        ) from None
    except psycopg.OperationalError as exc:
        raise WarehouseError(f"Cannot reach {redacted(server_url)}: {str(exc).strip().splitlines()[0]}. Check DATABASE_URL.") from None
    return with_database(server_url, database).render_as_string(hide_password=False)


def drop_database(server_url: str, database: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(with_database(server_url, "postgres")), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database}" with (force)')
