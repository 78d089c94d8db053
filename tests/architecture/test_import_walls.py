"""The import walls of the one shape every layer has (CONTRIBUTING.md, "One shape per layer").

Read from the source (every ``import`` statement, also the lazy ones inside functions), so a wall
breaks the test the moment a module crosses it:

- a layer's **pure modules** import neither Dagster nor SQLAlchemy/psycopg nor the warehouse,
  orchestration, assets, resources or any store;
- the HTTP **clients** of the sources layer import no database and no Dagster;
- a layer's **store** (``<layer>/store.py`` or ``<layer>/store/``) and the shared ``warehouse``
  tools import no Dagster, assets, orchestration or resources;
- the **assets** modules issue no SQL of their own: they import neither SQLAlchemy nor psycopg;
- the **sandbox** knows only the contract: it imports nothing of the pipeline;
- nothing imports ``definitions.py`` but the tools (bench).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "analytics_pipeline"
LAYERS = ("sources", "analytics", "gamification", "aggregates", "governance", "predictive", "reporting", "quality")
HTTP_CLIENTS = {"analytics_pipeline.sources.client", "analytics_pipeline.sources.xapi_client"}
DATABASE = ("sqlalchemy", "psycopg", "psycopg2")
DAGSTER = ("dagster",)
WIRING = ("analytics_pipeline.assets", "analytics_pipeline.orchestration", "analytics_pipeline.resources",
          "analytics_pipeline.definitions", "analytics_pipeline.bench", "analytics_pipeline.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports (absolute names; ``from x import y`` gives x and x.y)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def is_store(module: str) -> bool:
    parts = module.split(".")
    return "store" in parts[2:] or module.startswith("analytics_pipeline.warehouse")


def kind_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "other"
    if parts[1] == "assets":
        return "assets"
    if parts[1] == "sandbox":
        return "sandbox"
    if is_store(module):
        return "store"
    if module in HTTP_CLIENTS:
        return "client"
    if parts[1] in LAYERS:
        return "pure"
    return "other"


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(module: str, imports: set[str]) -> list[str]:
    """What ``module`` imports across its walls (empty: none)."""
    kind = kind_of(module)
    bad: set[str] = set()
    if kind == "pure":
        bad = {n for n in imports if _under(n, DAGSTER + DATABASE + WIRING + ("analytics_pipeline.warehouse",))
               or is_store(n) and n.startswith("analytics_pipeline.")}
    elif kind == "client":
        bad = {n for n in imports if _under(n, DAGSTER + DATABASE + WIRING + ("analytics_pipeline.warehouse",))}
    elif kind == "store":
        bad = {n for n in imports if _under(n, DAGSTER + WIRING)}
    elif kind == "assets":
        bad = {n for n in imports if _under(n, DATABASE)}
    elif kind == "sandbox":
        bad = {n for n in imports if n.startswith("analytics_pipeline") and not _under(n, ("analytics_pipeline.sandbox",))}
    if kind != "other" or not module.startswith("analytics_pipeline.bench"):
        bad |= {n for n in imports if _under(n, ("analytics_pipeline.definitions",))}
    return sorted(bad)


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_keeps_its_walls(path: Path):
    module = module_name(path)
    found = violations(module, imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"))
    assert not found, f"{module} ({kind_of(module)}) imports across its wall: {found}"


def test_every_layer_has_its_pure_part_and_store():
    """Each layer's folder exists with a store; the pure layers are not empty."""
    for layer in LAYERS:
        folder = PACKAGE / layer
        assert folder.is_dir(), layer
        if layer != "quality":  # quality validates frames; it reads and writes nothing
            assert (folder / "store.py").exists() or (folder / "store").is_dir(), f"{layer} has no store"
    assert (PACKAGE / "assets").is_dir()


@pytest.mark.parametrize("module, source, expected", [
    ("analytics_pipeline.analytics.velocity", "import dagster as dg", ["dagster"]),
    ("analytics_pipeline.analytics.velocity", "def f():\n    import sqlalchemy\n", ["sqlalchemy"]),
    ("analytics_pipeline.predictive.drop_off", "from .store import query", ["analytics_pipeline.predictive.store",
                                                                         "analytics_pipeline.predictive.store.query"]),
    ("analytics_pipeline.gamification.streaks", "from analytics_pipeline.warehouse import bulk",
     ["analytics_pipeline.warehouse", "analytics_pipeline.warehouse.bulk"]),
    ("analytics_pipeline.gamification.store", "from dagster import asset", ["dagster", "dagster.asset"]),
    ("analytics_pipeline.sources.store.tables", "import analytics_pipeline.orchestration.pools",
     ["analytics_pipeline.orchestration.pools"]),
    ("analytics_pipeline.assets.governance", "import sqlalchemy as sa", ["sqlalchemy"]),
    ("analytics_pipeline.sources.client", "import psycopg", ["psycopg"]),
    ("analytics_pipeline.sandbox.generator", "from analytics_pipeline.sources.contract import CONTRACT",
     ["analytics_pipeline.sources.contract", "analytics_pipeline.sources.contract.CONTRACT"]),
    ("analytics_pipeline.assets.report", "from analytics_pipeline import definitions", ["analytics_pipeline.definitions"]),
    ("analytics_pipeline.gamification.store", "import sqlalchemy as sa\nfrom analytics_pipeline.warehouse import sql_text", []),
    ("analytics_pipeline.analytics.velocity", "import pandas as pd\nfrom .common import utc", []),
])
def test_the_walls_catch_a_crossing(module, source, expected):
    """The checker itself: each crossing is reported, an allowed import is not."""
    assert violations(module, imported_modules(source, module)) == expected


MAX_ASSET_LINES = 40


def test_assets_are_wiring_only():
    """Every asset and asset check body is short (≤ 40 lines) and issues no SQL text itself."""
    too_long, sql = [], []
    for path in sorted((PACKAGE / "assets").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any("asset" in ast.unparse(d) for d in node.decorator_list):
                lines = node.end_lineno - node.body[0].lineno + 1
                if lines > MAX_ASSET_LINES:
                    too_long.append(f"{path.name}:{node.name} ({lines} lines)")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.lstrip().lower().startswith(("select ", "insert ", "update ", "delete ", "refresh ")):
                sql.append(f"{path.name}:{node.lineno}")
    assert not too_long, f"asset bodies longer than {MAX_ASSET_LINES} lines (move the work into the layer's store): {too_long}"
    assert not sql, f"SQL written inside an assets module (it belongs in the layer's store / sql/queries): {sql}"
