"""Learner velocity (table ``learner_velocity_analytics``).

Who gets a row: every learner with at least one active enrollment at ``T``.

For each active enrollment ``e`` of a learner (W = the 28 days ``(T-28d, T]``):

- ``gained_e`` = sum of ``progress_delta`` of the learner's events on ``e.course_id`` in W;
  ``pace_e = gained_e / (28 / 7)`` percentage points per week.
- ``progress_e`` (progress at T) = clip(``progress_percent`` - sum of ``progress_delta`` of
  the enrollment's events after T, 0, 100) -- ``progress_percent`` is the value *now*, the
  events after T are rewound so that a backfill sees the progress of that day.
- ``weeks_left_e`` = (target date - T) / 7 days, the real time left (a deadline 2.4 days away
  is 0.34 weeks, not one: the status must not look better than it is), where the target date
  is ``target_completion_at``, else ``enrolled_at + expected_weeks`` of the course, else
  ``enrolled_at + default_weeks``. A target at or before T (already passed) counts as
  ``passed_weeks_left`` = one week left (reference/design/analytics.md).

Learner values:

- ``current_pace`` = mean over active enrollments of ``pace_e`` (points/week).
- ``target_pace`` = mean over active enrollments of ``(100 - progress_e) / weeks_left_e``.
- ``trend_percentage`` = ``(recent - previous) / previous * 100`` where ``recent`` is the sum
  of ``progress_delta`` (active enrollments' courses) in ``(T-14d, T]`` and ``previous`` in
  ``(T-28d, T-14d]`` (equal halves, so the ratio of sums is the ratio of paces); both zero:
  0; previous zero: +999.99 (the cap); clipped to ±999.99 (``numeric(5,2)``).
  ``trend_direction``: ``accelerating`` > +10 %, ``declining`` < -10 %, else ``stable``.
- ``status``: ``ahead`` if current >= 1.1 x target, ``on_track`` >= 0.9 x, ``behind``
  >= 0.5 x, else ``at_risk``; no learning event at all (any course) in ``(T-14d, T]``:
  ``at_risk``.
- ``estimated_completion`` = T + (mean remaining ``100 - progress_e``) / ``current_pace``
  weeks; null when ``current_pace <= 0`` or when the estimate is further than
  ``max_estimate_weeks`` (default 520 weeks = 10 years, not meaningful and it would overflow
  timestamps for tiny paces); T itself when nothing remains; rounded to the second.

Paces are rounded to 2 decimals once, at the edge, after the status and the estimate were
decided on the exact values (from exact cent sums and a fixed order: the same rows give the
same values whatever order they are read in); ``current_pace`` is clipped to ±999.99
(``numeric(5,2)``); ``target_pace`` is not clipped (``numeric(16,2)`` since migration 0012:
100 points in the last microsecond still fits).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import common

TABLE = "learner_velocity_analytics"
COLUMNS = ["current_pace", "target_pace", "trend_direction", "trend_percentage", "status",
           "estimated_completion"]


@dataclass(frozen=True)
class VelocityConfig:
    window_days: int = 28
    trend_half_days: int = 14
    trend_threshold_pct: float = 10.0
    ahead_ratio: float = 1.1
    on_track_ratio: float = 0.9
    behind_ratio: float = 0.5
    inactive_days_at_risk: int = 14
    default_weeks: int = 12
    passed_weeks_left: float = 1.0
    max_estimate_weeks: float = 520.0
    ttl: pd.Timedelta = common.DEFAULT_TTL


def compute_velocity(enrollments: pd.DataFrame, courses: pd.DataFrame | None,
                     learning_events: pd.DataFrame | None, T: pd.Timestamp,
                     config: VelocityConfig = VelocityConfig()) -> pd.DataFrame:
    """One row per learner with an active enrollment at ``T`` (see module docstring)."""
    T = common.utc(T)
    cfg = config
    act = common.active_enrollments(enrollments, T)
    act = act.loc[:, ["user_id", "course_id", "enrolled_at", "target_completion_at",
                      "progress_percent"]].copy()
    act["user_id"] = act["user_id"].astype(str)
    act["course_id"] = act["course_id"].astype(str)
    act = act.drop_duplicates(["user_id", "course_id"])
    learners = pd.Index(np.sort(act["user_id"].unique()), name="user_id")

    # Events: all rows (needed to rewind progress after T), only needed columns.
    ev = common.frame_or_empty(learning_events, ["user_id", "course_id", "occurred_at",
                                                 "progress_delta"])
    ev = ev.assign(user_id=ev["user_id"].astype(str), course_id=ev["course_id"].astype(str),
                   occurred_at=common.to_utc_series(ev["occurred_at"]),
                   progress_delta=pd.to_numeric(ev["progress_delta"]).astype(float)
                   .fillna(0.0))
    age = (T - ev["occurred_at"]) / pd.Timedelta(days=1)  # days before T (negative: after)
    half = cfg.trend_half_days
    ev = ev.assign(
        after=np.where(age < 0, ev["progress_delta"], 0.0),
        in_w=np.where((age >= 0) & (age < cfg.window_days), ev["progress_delta"], 0.0),
        recent=np.where((age >= 0) & (age < half), ev["progress_delta"], 0.0),
        previous=np.where((age >= half) & (age < 2 * half), ev["progress_delta"], 0.0),
        any_recent=(age >= 0) & (age < cfg.inactive_days_at_risk),
    )
    # progress_delta is numeric(5,2): sums rounded back to the cent are exact whatever order
    # the rows came in (a float sum depends on it, and a pace on a half cent then rounds
    # either way from one run to the next)
    per_course = ev.groupby(["user_id", "course_id"], sort=False)[
        ["after", "in_w", "recent", "previous"]].sum().round(2)
    act = act.merge(per_course, how="left", left_on=["user_id", "course_id"],
                    right_index=True)
    act[["after", "in_w", "recent", "previous"]] = act[
        ["after", "in_w", "recent", "previous"]].fillna(0.0)

    # Progress at T and weeks left to the target date.
    progress_now = pd.to_numeric(act["progress_percent"]).astype(float).fillna(0.0)
    act["progress"] = (progress_now - act["after"]).clip(0.0, 100.0)
    cw = common.frame_or_empty(courses, ["id", "expected_weeks"])
    expected = pd.Series(pd.to_numeric(cw["expected_weeks"]).astype(float).to_numpy(),
                         index=cw["id"].astype(str).to_numpy())
    expected = expected[~expected.index.duplicated()]
    weeks = act["course_id"].map(expected).fillna(float(cfg.default_weeks))
    fallback = act["enrolled_at"] + pd.to_timedelta(weeks * 7, unit="D")
    target_date = act["target_completion_at"].fillna(fallback)
    weeks_left = (target_date - T) / pd.Timedelta(weeks=1)
    weeks_left = weeks_left.where(weeks_left > 0, cfg.passed_weeks_left)
    act["remaining"] = 100.0 - act["progress"]
    act["target_pace"] = act["remaining"] / weeks_left
    act["pace"] = act["in_w"] / (cfg.window_days / 7.0)
    # both are whole cents (numeric(5,2) inputs, sums rounded to the cent): the 520-week cut
    # below compares them exactly (a float quotient of exactly 520 reads 520.0000000000001)
    act["remaining_cents"] = np.rint(act["remaining"].to_numpy(dtype=float) * 100)
    act["in_w_cents"] = np.rint(act["in_w"].to_numpy(dtype=float) * 100)

    # a fixed order of each learner's enrollments: means of 3+ floats depend on it
    g = act.sort_values(["user_id", "course_id"], kind="stable").groupby("user_id", sort=True)
    out = pd.DataFrame({
        "current_pace": g["pace"].mean(),
        "target_pace": g["target_pace"].mean(),
        "remaining": g["remaining"].mean(),
        "recent": g["recent"].sum(),
        "previous": g["previous"].sum(),
        "remaining_cents": g["remaining_cents"].sum(),
        "in_w_cents": g["in_w_cents"].sum(),
    }).reindex(learners)
    active_recently = ev.loc[ev["any_recent"], "user_id"].unique()
    out["inactive"] = ~out.index.isin(active_recently)

    pct = common.percent_change(out["recent"], out["previous"])
    out["trend_percentage"] = common.clip_numeric(pct)   # shown rounded; classified exact
    out["trend_direction"] = common.classify_trend(pct, "accelerating", "declining",
                                                   cfg.trend_threshold_pct)
    cur, tgt = out["current_pace"].to_numpy(), out["target_pace"].to_numpy()
    status = np.select(
        [out["inactive"].to_numpy(), cur >= cfg.ahead_ratio * tgt,
         cur >= cfg.on_track_ratio * tgt, cur >= cfg.behind_ratio * tgt],
        ["at_risk", "ahead", "on_track", "behind"], default="at_risk")
    out["status"] = status.astype(object)

    with np.errstate(divide="ignore", invalid="ignore"):
        weeks_to_go = np.where(cur > 0, out["remaining"].to_numpy() / cur, np.nan)
    # mean remaining / mean pace = Σ remaining × window weeks / Σ gained (same enrollments):
    # "beyond max_estimate_weeks" decided on the exact cents, so exactly 520 weeks is shown
    within = (out["remaining_cents"].to_numpy() * cfg.window_days
              <= cfg.max_estimate_weeks * 7.0 * out["in_w_cents"].to_numpy())
    weeks_to_go = np.where(within, weeks_to_go, np.nan)
    out["estimated_completion"] = (
        T + pd.to_timedelta(pd.Series(weeks_to_go, index=out.index) * 7, unit="D")
    ).dt.round("s").astype("datetime64[us, UTC]")
    out["current_pace"] = common.clip_numeric(out["current_pace"])
    out["target_pace"] = np.round(out["target_pace"].to_numpy(dtype=float), 2)
    return common.finish(out, COLUMNS, T, cfg.ttl)
