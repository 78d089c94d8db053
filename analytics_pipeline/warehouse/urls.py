"""Database URLs: the warehouse on psycopg 3, Dagster's storage on psycopg2.

With SQLAlchemy 2.1 a bare ``postgresql://`` URL selects psycopg 3, and dagster-postgres then
fails on ``NOTIFY run_events, $1`` — so Dagster always gets an explicit ``postgresql+psycopg2://``.
"""
from __future__ import annotations

from sqlalchemy.engine import URL, make_url  # noqa: F401 (make_url re-exported)

from analytics_pipeline.warehouse.errors import WarehouseError


def parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise WarehouseError(f"DATABASE_URL is not a database URL ({exc}). Expected postgresql://user:password@host:port/dbname.") from exc
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise WarehouseError(f"DATABASE_URL must point at PostgreSQL, not {parsed.get_backend_name()!r}.")
    return parsed


def warehouse_url(url: str) -> URL:
    """The SQLAlchemy URL of the warehouse, on psycopg 3."""
    return parse(url).set(drivername="postgresql+psycopg")


def with_database(url: str, database: str) -> URL:
    return warehouse_url(url).set(database=database)


def dagster_storage_url(url: str, database: str | None = None) -> str:
    """Dagster's storage URL (psycopg2) for database ``database`` (default: the one of ``url``) on
    the server of ``url``."""
    parsed = warehouse_url(url).set(drivername="postgresql+psycopg2")
    return (parsed.set(database=database) if database else parsed).render_as_string(hide_password=False)


def dagster_database_for(url: str) -> str:
    """The default database of Dagster's storage for the warehouse at ``url``: ``<warehouse>_dagster``
    on the same server, so two warehouses on one server (staging and production, two test
    databases) never share runs, event logs or schedules. PostgreSQL cuts names at 63 bytes."""
    return f"{parse(url).database or 'postgres'}"[:63 - len("_dagster")] + "_dagster"


def warehouse_label(url: str) -> str:
    """``host:port/database`` of the warehouse (no user, no password): the value of the run tag
    that says which warehouse a run wrote to."""
    parsed = parse(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def libpq_url(url: str | URL) -> str:
    """A plain libpq URL (for psql, psycopg.connect)."""
    return (make_url(url) if isinstance(url, str) else url).set(drivername="postgresql").render_as_string(hide_password=False)


def redacted(url: str | URL) -> str:
    return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)
