"""The points ledger (``point_transactions``): one row per award.

Every row has an origin ``(activity_type, source_id)`` that is unique, so re-running or
backfilling a day never awards twice (the database enforces it with a unique index and
``ON CONFLICT DO NOTHING``).  Only awards earned at or before T are returned, and the same
inputs always give the same rows (same order, same timestamps).

activity_type (points)              source_id                      timestamp
- content_completed (10)            learning_events.id of a        occurred_at
                                    ``completed`` event
- course_completed (100)            enrollments.id with            completed_at
                                    completed_at set
- assessment_passed (25)            assessment_results.id with     submitted_at
                                    score >= passing_score
- assessment_excellence_bonus (10)  assessment_results.id of a     submitted_at
                                    passing result with score >= 90
- daily_first_activity (5)          ``user_id:YYYY-MM-DD`` (local  first event of the day
                                    day, see ``streaks``)
- streak_bonus (50)                 ``user_id:YYYY-MM-DD`` of the  first event of the day
                                    7th, 14th, ... day of a run

Points come from ``PointRules``.  With ``PointRules.award_once_per_item`` (default) a
learner earns each content item, course and assessment (and its excellence bonus) once: the
earliest qualifying event/enrollment/result by timestamp, ties broken by id.  A completed
event without content id names no item: every such completion pays (docs/gamification.md,
"Origins of the ledger": ``id:<event id>``).

``metadata`` is a JSON-serialisable dict (native Python str/int/float, ISO dates):
content: ``content_id, course_id, content_type``; course: ``course_id``; assessment:
``assessment_id, course_id, score, passing_score``; bonus: ``assessment_id, score,
threshold``; daily: ``date, timezone``; streak: ``date, timezone, streak_day``.

Caveat: when late data fills a gap between two runs, the merged run's 7th/14th days can
differ from the ones already awarded; already-written awards stay (insert-only ledger).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rules import PointRules, _as_utc
from .streaks import active_days, streak_positions

__all__ = ["award_points", "LEDGER_COLUMNS", "passed_results", "completed_contents",
           "completed_courses"]

LEDGER_COLUMNS = ["user_id", "points", "activity_type", "source_id", "metadata", "timestamp"]


def _empty_ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype="str"),
            "points": pd.Series(dtype="int64"),
            "activity_type": pd.Series(dtype="str"),
            "source_id": pd.Series(dtype="str"),
            "metadata": pd.Series(dtype="object"),
            "timestamp": pd.Series(dtype="datetime64[us, UTC]"),
        }
    )


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    """JSON-serialisable dicts (native types, None for missing) of ``columns``."""
    if df.empty:
        return []
    # column lists zipped (``to_dict("records")`` boxes every value through pandas: 4x slower)
    values = [df[c].astype("object").where(df[c].notna(), None).tolist() for c in columns]
    return [dict(zip(columns, row)) for row in zip(*values)]


def _prepare(df: pd.DataFrame, ts_col: str, T: pd.Timestamp, id_cols=("id", "user_id")):
    out = df.copy()
    out[ts_col] = pd.to_datetime(out[ts_col], utc=True)
    out = out.dropna(subset=[*id_cols, ts_col])
    out = out[out[ts_col] <= T]
    for c in id_cols:
        out[c] = out[c].astype("str")
    out = out.drop_duplicates("id", keep="last") if "id" in id_cols else out
    return out.sort_values([ts_col, "id"], kind="stable").reset_index(drop=True)


def completed_contents(learning_events: pd.DataFrame, T, once_per_item: bool = True) -> pd.DataFrame:
    """``completed`` learning events at or before T (first per learner and content item; every
    completion without a content id, which names no item to pay once for)."""
    ev = _prepare(learning_events, "occurred_at", _as_utc(T))
    ev = ev[ev["event_type"].astype("str") == "completed"]
    if once_per_item:  # a completion without content id is no item: it pays on its own
        content = ev["content_id"].astype("string")
        no_item = (content.isna() | (content.str.len() == 0)).to_numpy()
        ev = ev[no_item | ~ev.duplicated(["user_id", "content_id"], keep="first").to_numpy()]
    return ev.reset_index(drop=True)


def completed_courses(enrollments: pd.DataFrame, T, once_per_item: bool = True) -> pd.DataFrame:
    """Enrollments completed at or before T (``completed_at`` is the completion instant);
    first completion per learner and course when ``once_per_item``."""
    e = _prepare(enrollments, "completed_at", _as_utc(T))
    if once_per_item:
        e = e.drop_duplicates(["user_id", "course_id"], keep="first")
    return e.reset_index(drop=True)


def passed_results(assessment_results: pd.DataFrame, T, once_per_item: bool = True) -> pd.DataFrame:
    """Passing results (score >= passing_score) submitted at or before T; first pass per
    learner and assessment when ``once_per_item``."""
    r = _prepare(assessment_results, "submitted_at", _as_utc(T))
    score = pd.to_numeric(r["score"], errors="coerce")
    passing = pd.to_numeric(r["passing_score"], errors="coerce")
    r = r[(score >= passing).fillna(False).to_numpy()]
    if once_per_item:
        r = r.drop_duplicates(["user_id", "assessment_id"], keep="first")
    return r.reset_index(drop=True)


def _rows(df, points, activity_type, source_id, timestamp, metadata) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": df["user_id"].astype("str").to_numpy(),
            "points": np.full(len(df), int(points), dtype="int64"),
            "activity_type": activity_type,
            "source_id": pd.Series(source_id).astype("str").to_numpy(),
            "metadata": pd.Series(metadata, dtype="object").to_numpy()
            if len(df) else np.array([], dtype="object"),
            "timestamp": pd.to_datetime(pd.Series(timestamp), utc=True).reset_index(drop=True),
        }
    )


def award_points(
    learning_events: pd.DataFrame,
    assessment_results: pd.DataFrame,
    enrollments: pd.DataFrame,
    T,
    org_timezones: pd.Series | None = None,
    rules: PointRules = PointRules(),
) -> pd.DataFrame:
    """Ledger rows ``user_id, points, activity_type, source_id, metadata, timestamp`` for all
    awards earned at or before T (see the module docstring for the rules)."""
    T = _as_utc(T)
    parts: list[pd.DataFrame] = []

    # content completed
    c = completed_contents(learning_events, T, rules.award_once_per_item)
    parts.append(_rows(c, rules.content_completed, "content_completed", c["id"],
                       c["occurred_at"], _records(c, ["content_id", "course_id", "content_type"])))

    # course completed
    e = completed_courses(enrollments, T, rules.award_once_per_item)
    parts.append(_rows(e, rules.course_completed, "course_completed", e["id"],
                       e["completed_at"], _records(e, ["course_id"])))

    # assessment passed (+ excellence bonus)
    r = passed_results(assessment_results, T, rules.award_once_per_item)
    parts.append(_rows(r, rules.assessment_passed, "assessment_passed", r["id"], r["submitted_at"],
                       _records(r, ["assessment_id", "course_id", "score", "passing_score"])))
    r_all = passed_results(assessment_results, T, once_per_item=False)
    ex = r_all[pd.to_numeric(r_all["score"]) >= rules.excellence_score]
    if rules.award_once_per_item:
        ex = ex.drop_duplicates(["user_id", "assessment_id"], keep="first")
    ex = ex.assign(threshold=float(rules.excellence_score))
    parts.append(_rows(ex, rules.excellence_bonus, "assessment_excellence_bonus", ex["id"],
                       ex["submitted_at"], _records(ex, ["assessment_id", "score", "threshold"])))

    # daily first activity and streak bonus (local days)
    days = streak_positions(active_days(learning_events, org_timezones, T))
    days["date_str"] = days["date"].dt.strftime("%Y-%m-%d")
    day_key = days["user_id"] + ":" + days["date_str"]
    days_meta = pd.DataFrame(
        {"date": days["date_str"], "timezone": days["timezone"], "streak_day": days["streak_day"]}
    )
    parts.append(_rows(days, rules.daily_first_activity, "daily_first_activity", day_key,
                       days["first_activity_at"], _records(days_meta, ["date", "timezone"])))
    bonus_mask = (days["streak_day"] % rules.streak_bonus_every_days == 0).to_numpy()
    b, b_meta = days[bonus_mask], days_meta[bonus_mask]
    parts.append(_rows(b, rules.streak_bonus, "streak_bonus", day_key[bonus_mask],
                       b["first_activity_at"], _records(b_meta, ["date", "timezone", "streak_day"])))

    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_ledger()
    ledger = pd.concat(parts, ignore_index=True)
    ledger["user_id"] = ledger["user_id"].astype("str")
    ledger["activity_type"] = ledger["activity_type"].astype("str")
    ledger["source_id"] = ledger["source_id"].astype("str")
    ledger["timestamp"] = pd.to_datetime(ledger["timestamp"], utc=True)
    ledger = ledger[ledger["timestamp"] <= T]
    ledger = ledger.sort_values(["timestamp", "activity_type", "source_id"], kind="stable")
    return ledger[LEDGER_COLUMNS].reset_index(drop=True)
