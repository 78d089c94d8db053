"""Every published table's columns are described in the UI's column table, and the catalog
matches the migrated warehouse (a column a migration adds without a description fails here)."""
from __future__ import annotations

import sqlalchemy as sa

from analytics_pipeline.orchestration.column_docs import TABLE_COLUMNS, table_of

PUBLISHED_GROUPS = {"learner_analytics", "aggregates", "predictive", "gamification"}


def _graph():
    from analytics_pipeline.definitions import defs

    return defs.resolve_asset_graph()


def test_every_published_asset_carries_described_columns():
    graph = _graph()
    published = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in PUBLISHED_GROUPS]
    assert len(published) >= 15
    for key in published:
        metadata = graph.get(key).metadata
        schema = metadata.get("dagster/column_schema")
        assert schema is not None, f"{key.to_user_string()} has no column schema"
        missing = [c.name for c in schema.columns if not (c.description or "").strip()]
        assert not missing, f"{key.to_user_string()}: columns without a description: {missing}"
        assert metadata["dagster/table_name"] == f"public.{table_of(key)}"


def test_catalog_matches_the_warehouse(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and a.attnum > 0 "
            "and not a.attisdropped and c.relname = any(:tables) order by c.relname, a.attnum"),
            {"tables": list(TABLE_COLUMNS)}).all()
    actual: dict[str, list[str]] = {}
    for table, column in rows:
        actual.setdefault(table, []).append(column)
    for table, columns in TABLE_COLUMNS.items():
        assert sorted(actual.get(table, [])) == sorted(name for name, _, _ in columns), table


def test_learner_analytics_materializations_describe_their_columns():
    from analytics_pipeline.assets.learner_analytics import SPECS, _table_schema

    for spec in SPECS:
        assert all(c.description for c in _table_schema(spec).columns), spec.name
