"""Item awards for one window of an incremental (daily-partitioned) ledger.

``award_points`` makes each content item, course and assessment pay once per learner *within the
frames it is given* and keys those awards on the event / enrollment / result id.  A nightly run
only sees one day, so a content item completed again on a later day (or a late, earlier
completion that arrives after the first one was awarded) would carry a new id and be awarded a
second time.  ``item_awards`` closes that gap: it keys the once-per-item awards on the item,

    content_completed            source_id = ``user_id:content_id``
    course_completed             source_id = ``user_id:course_id``
    assessment_passed            source_id = ``user_id:assessment_id``
    assessment_excellence_bonus  source_id = ``user_id:assessment_id``

so the ledger's unique ``(activity_type, source_id)`` makes them once per learner and item across
all runs, whatever the order of partitions.  The row's own id moves to ``origin_id`` (the asset
stores it in ``metadata.origin_id``).  A row whose item id is missing (a completed event without
``content_id``) keeps its own id as ``id:<origin>``; with ``award_once_per_item=False`` every row
keeps ``id:<origin>`` (every completion pays, as configured).

Consequence of the choice: the award that stays is the first one *written*.  When a late,
earlier completion arrives after a later one was already awarded, the points do not change but
the timestamp stays the later one (documented in docs/gamification.md).

Daily and streak awards are not made here: the asset computes them in SQL from
``daily_activity`` (their origin ``user_id:YYYY-MM-DD`` is already unique per learner and day).
"""

from __future__ import annotations

import pandas as pd

from .ledger import LEDGER_COLUMNS, award_points
from .rules import PointRules

__all__ = ["ITEM_ACTIVITY_TYPES", "ITEM_LEDGER_COLUMNS", "item_awards"]

#: activity type -> (which input frame, item column)
_ITEM_OF = {
    "content_completed": ("events", "content_id"),
    "course_completed": ("enrollments", "course_id"),
    "assessment_passed": ("results", "assessment_id"),
    "assessment_excellence_bonus": ("results", "assessment_id"),
}
ITEM_ACTIVITY_TYPES = tuple(_ITEM_OF)
ITEM_LEDGER_COLUMNS = [*LEDGER_COLUMNS, "origin_id"]


def _lookup(frame: pd.DataFrame, column: str) -> pd.Series:
    if frame is None or frame.empty or column not in frame:
        return pd.Series(dtype="object")
    f = frame[["id", column]].dropna(subset=["id"])
    f = f.assign(id=f["id"].astype("str")).drop_duplicates("id", keep="last")
    return f.set_index("id")[column]


def item_awards(
    learning_events: pd.DataFrame,
    assessment_results: pd.DataFrame,
    enrollments: pd.DataFrame,
    T,
    rules: PointRules = PointRules(),
) -> pd.DataFrame:
    """Ledger rows (``LEDGER_COLUMNS`` + ``origin_id``) of the content, course and assessment
    awards earned at or before T, keyed per learner and item (see the module docstring)."""
    ledger = award_points(learning_events, assessment_results, enrollments, T, None, rules)
    ledger = ledger[ledger["activity_type"].isin(ITEM_ACTIVITY_TYPES)].reset_index(drop=True)
    origin = ledger["source_id"].astype("str")
    item = pd.Series(pd.NA, index=ledger.index, dtype="object")
    frames = {"events": learning_events, "enrollments": enrollments, "results": assessment_results}
    for activity_type, (frame_name, column) in _ITEM_OF.items():  # four types, not rows
        mask = (ledger["activity_type"] == activity_type).to_numpy()
        if mask.any():
            item[mask] = origin[mask].map(_lookup(frames[frame_name], column)).to_numpy()
    item = item.astype("string")
    has_item = item.notna() & (item.str.len() > 0)
    if not rules.award_once_per_item:
        has_item[:] = False
    keyed = ledger["user_id"].astype("str") + ":" + item.fillna("")
    ledger["source_id"] = keyed.where(has_item, "id:" + origin).astype("str")
    ledger["origin_id"] = origin
    return ledger[ITEM_LEDGER_COLUMNS]
