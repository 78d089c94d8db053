"""Column descriptions of every published table, for the Dagster UI's column table
(the catalog itself: ``column_docs.yaml`` beside this module).

``definitions.py`` applies :func:`with_column_docs` to the merged definitions: every asset that
writes one of these tables gets ``dagster/column_schema`` (name, type, description) and
``dagster/table_name`` on its definition; the learner analytics assets also put the described
schema on each materialization (``column_schema``). ``tests/orchestration/test_column_docs.py``
compares this catalog with the migrated warehouse: a column added by a migration without a
description here fails it. Formulas in full: docs/analytics.md, docs/gamification.md,
docs/predictive.md.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import yaml

CATALOG = Path(__file__).with_name("column_docs.yaml")


def _load(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    """table -> [(column, type, description)] in the file's order."""
    return {table: [(name, str(type_), str(text)) for name, (type_, text) in columns.items()]
            for table, columns in yaml.safe_load(path.read_text(encoding="utf-8")).items()}


TABLE_COLUMNS = _load(CATALOG)

# assets whose key is not their table's name
ASSET_TABLES = {
    "predictive_drop_off_risk": "predictive_analytics_cache",
    "predictive_forecast": "predictive_analytics_cache",
    "predictive_recommendations": "predictive_analytics_cache",
}


def table_schema(table: str) -> dg.TableSchema:
    """The described column schema of ``table`` (KeyError: not a published table)."""
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description=text) for name, type_, text in TABLE_COLUMNS[table]])


def column_description(table: str, column: str) -> str | None:
    return next((text for name, _, text in TABLE_COLUMNS.get(table, []) if name == column), None)


def table_of(asset_key: dg.AssetKey) -> str | None:
    name = asset_key.path[-1]
    table = ASSET_TABLES.get(name, name)
    return table if table in TABLE_COLUMNS else None


def described(spec: dg.AssetSpec) -> dg.AssetSpec:
    table = table_of(spec.key)
    if table is None:
        return spec
    metadata = {"dagster/table_name": f"public.{table}", **spec.metadata, "dagster/column_schema": table_schema(table)}
    return spec.replace_attributes(metadata=metadata)


def with_column_docs(defs: dg.Definitions) -> dg.Definitions:
    with warnings.catch_warnings():  # map_asset_specs is marked "preview" in 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=described)
