"""Schema migrations: the versioned SQL files of ``sql/migrations`` applied by yoyo-migrations.

yoyo records what ran in ``_yoyo_migration`` and takes a lock, so applying twice changes
nothing and two processes never migrate at once.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from yoyo import get_backend, read_migrations

from analytics_pipeline.settings import SQL_DIR
from analytics_pipeline.warehouse.errors import WarehouseError
from analytics_pipeline.warehouse.urls import redacted, warehouse_url

log = logging.getLogger(__name__)
MIGRATIONS_DIR = SQL_DIR / "migrations"

# Tables the first migration creates; one that already exists outside yoyo's record is a conflict.
_FIRST_MIGRATION_TABLES = ("organizations", "users", "enrollments", "learner_velocity_analytics")


def _yoyo_url(url: str) -> str:
    return warehouse_url(url).render_as_string(hide_password=False)


def pending(url: str) -> list[str]:
    backend = get_backend(_yoyo_url(url))
    return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]


def _check_conflicts(url: str, to_apply: list[str]) -> None:
    if not to_apply or not to_apply[0].startswith("0001"):
        return
    from analytics_pipeline.warehouse.engine import make_engine

    with make_engine(url).connect() as conn:
        found = conn.execute(
            sa.text("select table_name from information_schema.tables where table_schema = 'public' and table_name = any(:names)"),
            {"names": list(_FIRST_MIGRATION_TABLES)},
        ).scalars().all()
    if found:
        raise WarehouseError(
            f"The database {redacted(url)} already has table(s) {', '.join(sorted(found))} that this project's "
            "migrations did not create. Nothing was changed. Point DATABASE_URL at an empty database (or a new one) "
            "for the analytics warehouse."
        )


def migrate(url: str) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    backend = get_backend(_yoyo_url(url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        to_apply = backend.to_apply(migrations)
        ids = [m.id for m in to_apply]
        _check_conflicts(url, ids)
        try:
            backend.apply_migrations(to_apply)
        except Exception as exc:
            raise WarehouseError(f"Migration failed and was rolled back: {exc}") from exc
    for migration_id in ids:
        log.info("applied migration %s", migration_id)
    return ids
