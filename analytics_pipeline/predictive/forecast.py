"""Completion forecast per active enrollment, with an interval from the spread of weekly pace.

For each enrollment active at T (``docs/raw-schema.md``), using events known at T only:

* progress at T = ``clip(sum(progress_delta), 0, 100)`` over the enrollment's events
  (as in :mod:`.features`); remaining = 100 - progress.
* weekly progress: the sum of ``progress_delta`` in each of the last ``weeks`` (8) weeks
  ``(T - 7(k+1) days, T - 7k days]``, k = 0..7, counting only the weeks the enrollment
  existed: ``weeks_observed = clip(ceil((T - enrolled_at) / 7 days), 1, 8)`` (a week
  without events counts 0).
* ``weekly_pace`` = mean of those weeks, ``spread`` = their population std (ddof 0).
* ``expected_completion`` = T + remaining / pace weeks; ``earliest`` = T + remaining /
  (pace + spread) weeks; ``latest`` = T + remaining / max(pace - spread,
  ``min_pace_fraction`` * pace) weeks (the lower pace is clamped so the interval stays
  finite). Pace 0 (or negative): all three dates null and ``reason = 'no pace'``. A date more
  than ``max_weeks`` (520) weeks after T is null (a tiny pace would overflow timestamps).
  Nothing left (progress 100): all three are T.
* Confidence per enrollment = 100 * (weeks_observed / weeks) * max(0, 1 - spread / pace)
  (0 without pace); the learner's ``confidence_score`` is the mean over their active
  enrollments (two decimals).

* Bounds: the enrollment's ``deadline`` = the earliest of its ``target_completion_at`` and its
  course's ``ends_at`` (``courses``, contract 1.1; either may be absent). A date after the
  deadline is null (no forecast lands after the run ends or the target passes): an expected
  completion after it gives ``reason = 'not by the deadline'`` and ``on_track = False``
  (``True`` when expected by the deadline, None without a deadline or a pace).

Output: one row per learner: ``user_id``, ``data`` = ``{"enrollments": [{"course_id",
"expected_completion", "earliest", "latest", "weekly_pace", "progress", "reason", "deadline", "on_track"}, ...]}``
(dates as ISO 8601 UTC strings ``YYYY-MM-DDTHH:MM:SSZ`` or None, enrollments ordered by course_id) and
``confidence_score``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cache_rows import lists_by_user
from .features import _utc, active_enrollments_at, as_instant, known_at

WEEK = pd.Timedelta(days=7)


@dataclass(frozen=True)
class ForecastConfig:
    weeks: int = 8
    min_pace_fraction: float = 0.25
    pace_decimals: int = 2
    max_weeks: float = 520.0  # a date further than this (10 years) is null: meaningless, and beyond pandas' range


def deadlines(act: pd.DataFrame, courses: pd.DataFrame | None) -> pd.Series:
    """min(target_completion_at, the course's ends_at) per enrollment row (NaT when neither)."""
    target = _utc(act["target_completion_at"]) if "target_completion_at" in act.columns else \
        pd.Series(pd.NaT, index=act.index, dtype="datetime64[us, UTC]")
    if courses is not None and "ends_at" in courses.columns and len(courses):
        ends = courses.drop_duplicates("id").set_index("id")["ends_at"]
        end = _utc(act["course_id"].map(ends))
        return pd.concat([target, end], axis=1).min(axis=1)
    return target


def enrollment_forecasts(events: pd.DataFrame, enrollments: pd.DataFrame, T, config: ForecastConfig = ForecastConfig(),
                         courses: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per active enrollment: user_id, course_id, progress, weekly_pace, spread,
    weeks_observed, expected_completion, earliest, latest (timestamps), deadline, on_track,
    reason, confidence."""
    T = as_instant(T)
    act = active_enrollments_at(enrollments, T).drop_duplicates(["user_id", "course_id"]).reset_index(drop=True)
    deadline = deadlines(act, courses)
    act = act[["user_id", "course_id", "enrolled_at"]].assign(deadline=deadline)
    ev = known_at(events, "occurred_at", T)
    ev = ev.assign(
        occurred_at=_utc(ev["occurred_at"]),
        progress_delta=pd.to_numeric(ev["progress_delta"]).fillna(0.0).astype(float),
    )
    ev = ev.merge(act[["user_id", "course_id"]], on=["user_id", "course_id"], how="inner")
    key = ["user_id", "course_id"]

    progress = ev.groupby(key)["progress_delta"].sum()
    act = act.merge(progress.rename("progress").reset_index(), on=key, how="left")
    act["progress"] = act["progress"].fillna(0.0).clip(0.0, 100.0)

    week = ((T - ev["occurred_at"]) // WEEK).astype(int)
    recent = ev.assign(week=week).loc[lambda d: d["week"] < config.weeks]
    weekly = (
        recent.groupby(key + ["week"])["progress_delta"].sum().unstack("week")
        .reindex(columns=range(config.weeks))
    )
    weekly = weekly.reindex(pd.MultiIndex.from_frame(act[key])).fillna(0.0)
    weeks_observed = np.clip(np.ceil((T - act["enrolled_at"]) / WEEK).to_numpy(dtype=float), 1, config.weeks)
    W = weekly.to_numpy(dtype=float)
    W = np.where(np.arange(config.weeks)[None, :] < weeks_observed[:, None], W, np.nan)
    pace = np.nanmean(W, axis=1)
    spread = np.nanstd(W, axis=1)

    remaining = 100.0 - act["progress"].to_numpy(dtype=float)
    has_pace = pace > 0
    safe = np.where(has_pace, pace, 1.0)
    low = np.maximum(pace - spread, config.min_pace_fraction * pace)

    def date(weeks_needed):
        weeks_needed = np.where(has_pace & (weeks_needed <= config.max_weeks), weeks_needed, np.nan)
        td = pd.to_timedelta(weeks_needed * 7, unit="D")
        return pd.Series(T + td, index=act.index)

    act["weekly_pace"] = pace
    act["spread"] = spread
    act["weeks_observed"] = weeks_observed
    act["expected_completion"] = date(remaining / safe)
    act["earliest"] = date(remaining / np.where(has_pace, pace + spread, 1.0))
    act["latest"] = date(remaining / np.where(has_pace, low, 1.0))
    expected = act["expected_completion"]
    late = (expected > act["deadline"]).fillna(False).to_numpy(dtype=bool)
    known = (expected.notna() & act["deadline"].notna()).to_numpy(dtype=bool)
    act["on_track"] = pd.Series(np.where(known, ~late, None), index=act.index, dtype=object)
    for col in ("expected_completion", "earliest", "latest"):  # nothing after the deadline
        act[col] = act[col].where(~(act[col] > act["deadline"]).fillna(False))
    act["reason"] = pd.Series(np.where(has_pace, np.where(late, "not by the deadline", None), "no pace"),
                              index=act.index, dtype=object)
    act["confidence"] = np.where(
        has_pace, 100.0 * weeks_observed / config.weeks * np.clip(1.0 - spread / safe, 0.0, 1.0), 0.0
    )
    return act.sort_values(key).reset_index(drop=True)


def _iso(col: pd.Series) -> pd.Series:
    text = col.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype(object)
    return text.where(col.notna(), None)


def forecast_completion(events: pd.DataFrame, enrollments: pd.DataFrame, T, config: ForecastConfig = ForecastConfig(),
                        courses: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per learner with an active enrollment: user_id, data, confidence_score."""
    f = enrollment_forecasts(events, enrollments, T, config, courses)
    if f.empty:
        return pd.DataFrame({"user_id": pd.Series([], dtype="str"), "data": pd.Series([], dtype=object),
                             "confidence_score": pd.Series([], dtype=float)})
    items = pd.DataFrame(
        {
            "course_id": f["course_id"].astype(object),
            "expected_completion": _iso(f["expected_completion"]),
            "earliest": _iso(f["earliest"]),
            "latest": _iso(f["latest"]),
            "weekly_pace": f["weekly_pace"].round(config.pace_decimals).astype(float),
            "progress": f["progress"].round(2).astype(float),
            "reason": f["reason"],
            "deadline": _iso(f["deadline"]),
            "on_track": f["on_track"],
        }
    )
    per_learner = lists_by_user(items.to_dict("records"), f["user_id"].to_numpy())
    conf = f.groupby("user_id")["confidence"].mean().round(2)
    return pd.DataFrame(
        {
            "user_id": pd.Series(per_learner.index, dtype="str"),
            "data": [{"enrollments": e} for e in per_learner.to_numpy()],
            "confidence_score": conf.reindex(per_learner.index).to_numpy(dtype=float),
        }
    )
