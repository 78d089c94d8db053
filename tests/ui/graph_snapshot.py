"""The asset graph as plain data (keys, groups, upstream keys, kinds, checks), for the
checked-in snapshot ``asset_graph_snapshot.json``. Regenerate it after an intended change:

    python -m tests.ui.regenerate_snapshot
"""
from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT_PATH = Path(__file__).with_name("asset_graph_snapshot.json")


def load_definitions():
    """The project's code location, loaded as the webserver loads it (DATABASE_URL is only
    resolved at run time, so any value will do for loading)."""
    os.environ.setdefault("DATABASE_URL", "postgresql://unused@127.0.0.1:9/unused")
    from analytics_pipeline.definitions import defs

    return defs


def describe(defs) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not (node.is_materializable or node.is_observable):
            continue  # stubs for deps on keys that no module defines are not part of the graph
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {"assets": assets}


def render(description: dict) -> str:
    return json.dumps(description, indent=2, sort_keys=True) + "\n"
