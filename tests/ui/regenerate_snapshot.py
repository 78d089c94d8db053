"""Rewrite tests/ui/asset_graph_snapshot.json from the current definitions.

    python -m tests.ui.regenerate_snapshot      (from the project root)

Review the diff before committing it: it is the asset graph change the UI will show.
"""
from __future__ import annotations

from tests.ui.graph_snapshot import SNAPSHOT_PATH, describe, load_definitions, render


def main() -> None:
    text = render(describe(load_definitions()))
    SNAPSHOT_PATH.write_text(text)
    print(f"wrote {SNAPSHOT_PATH} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main()
