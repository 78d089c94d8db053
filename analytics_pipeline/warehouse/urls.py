"""Database URLs: the warehouse on psycopg 3, Dagster's storage on psycopg2.

With SQLAlchemy 2.1 a bare ``postgresql://`` URL selects psycopg 3, and dagster-postgres then
fails on ``NOTIFY run_events, $1`` — so Dagster always gets an explicit ``postgresql+psycopg2://``.
"""
from __future__ import annotations

from sqlalchemy.engine import URL, make_url

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


def dagster_storage_url(url: str, database: str = "dagster") -> str:
    """Dagster's storage URL (psycopg2) for database ``database`` on the warehouse's server."""
    return warehouse_url(url).set(drivername="postgresql+psycopg2", database=database).render_as_string(hide_password=False)


def libpq_url(url: str | URL) -> str:
    """A plain libpq URL (for psql, psycopg.connect)."""
    return (make_url(url) if isinstance(url, str) else url).set(drivername="postgresql").render_as_string(hide_password=False)


def redacted(url: str | URL) -> str:
    return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)
