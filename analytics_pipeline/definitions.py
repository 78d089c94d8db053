"""The Dagster code location: every layer's ``defs`` merged, with the shared resources.

Each module of ``analytics_pipeline.assets`` exposes ``defs = dg.Definitions(...)``; this module
only merges them. Only tools (workspace.yaml, the CLI's subprocesses, tests) import it.
"""
from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

from analytics_pipeline import assets as assets_package
from analytics_pipeline.orchestration.column_docs import with_column_docs
from analytics_pipeline.orchestration.freshness import with_dashboard_freshness
from analytics_pipeline.orchestration.jobs import JOBS
from analytics_pipeline.resources import WarehouseResource


def _layer_definitions() -> list[dg.Definitions]:
    found = []
    for module_info in sorted(pkgutil.iter_modules(assets_package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{assets_package.__name__}.{module_info.name}")
        layer_defs = getattr(module, "defs", None)
        if isinstance(layer_defs, dg.Definitions):
            found.append(layer_defs)
    return found


def build_resources() -> dict:
    resources = {"warehouse": WarehouseResource(database_url=dg.EnvVar("DATABASE_URL"))}
    try:  # the sources layer adds the LMS API resource
        from analytics_pipeline.resources import LmsApiResource
    except ImportError:
        pass
    else:
        resources["lms_api"] = LmsApiResource.from_environment()
    return resources


defs = with_column_docs(with_dashboard_freshness(
    dg.Definitions.merge(*_layer_definitions(), dg.Definitions(jobs=JOBS, resources=build_resources()))
))
