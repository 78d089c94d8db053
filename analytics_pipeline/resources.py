"""Dagster resources: the warehouse (PostgreSQL) connection.

The LMS API client resource lives with the sources layer (``sources/client.py``).
"""
from __future__ import annotations

import dagster as dg
from sqlalchemy.engine import Engine

from analytics_pipeline.warehouse.engine import make_engine
from analytics_pipeline.warehouse.urls import redacted


class WarehouseResource(dg.ConfigurableResource):
    """The analytics warehouse. ``database_url`` comes from ``DATABASE_URL`` (the CLI sets it to
    the embedded server when the variable is unset)."""

    database_url: str

    def engine(self) -> Engine:
        return make_engine(self.database_url)

    def describe(self) -> str:
        return redacted(self.database_url)
