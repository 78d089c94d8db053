"""Point-in-time learner features and drop-off labels (pure pandas).

Every feature at instant ``T`` is computed only from rows *known* at ``T``:

* learning events with ``occurred_at <= T``, assessment results with ``submitted_at <= T``,
  and, when the frame has an ``updated_at`` column, ``updated_at <= T`` (a row created or
  corrected after ``T`` -- a late-arriving backfill -- was not known at ``T``; a null
  ``updated_at`` counts as known);
* enrollments *active at T* (``docs/raw-schema.md``): ``enrolled_at <= T`` and
  ``completed_at``/``withdrawn_at`` null or after ``T``. The enrollment's ``updated_at`` is
  not filtered (an enrollment row is updated whenever progress moves; its timestamps give
  its state at ``T``), and its ``progress_percent`` is *not* used, because it is the state
  now: progress at ``T`` is rebuilt from the events, ``clip(sum(progress_delta), 0, 100)``
  per (learner, course) over events known at ``T``. Recomputing the same ``T`` later
  therefore gives the same features.

Features (one row per learner with at least one active enrollment at ``T``, index
``user_id``); a window "last w days" is ``(T - w days, T]``:

``days_since_last_activity``  days from the last event to ``T``; no event yet: days since
                              the learner's first active enrollment; capped at
                              ``max_inactive_days``.
``never_active``              1.0 when the learner has no event at or before ``T``.
``events_{w}d``, ``active_days_{w}d``, ``minutes_{w}d``  for w in ``windows_days``
                              (7, 14, 28): event count, distinct UTC days with an event,
                              sum of ``duration_seconds`` / 60.
``progress_last_14d``, ``progress_prev_14d``, ``progress_change``  sum of
                              ``progress_delta`` in the last 14 days, in the 14 before,
                              and their difference.
``mean_progress``             mean progress at ``T`` (see above) over active enrollments.
``n_active_enrollments``      number of active enrollments at ``T``.
``assessment_avg``, ``assessment_pass_share``, ``assessments_recent``  over results
                              submitted in the last ``assessment_window_days`` (28): mean
                              score, share with ``score >= passing_score``, count
                              (avg/share are NaN without a result; the model imputes).
``current_streak``            consecutive UTC days with an event ending on T's day or the
                              day before (0 otherwise).

Label (:func:`build_labels`): ``True`` when the learner has no learning event in
``(T, T + horizon_days]`` (default 14 days).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class FeatureConfig:
    windows_days: tuple[int, ...] = (7, 14, 28)
    trend_days: int = 14
    assessment_window_days: int = 28
    max_inactive_days: float = 90.0


def feature_columns(config: FeatureConfig = FeatureConfig()) -> list[str]:
    """The feature columns :func:`build_features` returns, in order."""
    cols = ["days_since_last_activity", "never_active"]
    for w in config.windows_days:
        cols += [f"events_{w}d", f"active_days_{w}d", f"minutes_{w}d"]
    cols += [
        "progress_last_14d",
        "progress_prev_14d",
        "progress_change",
        "mean_progress",
        "n_active_enrollments",
        "assessment_avg",
        "assessment_pass_share",
        "assessments_recent",
        "current_streak",
    ]
    return cols


def as_instant(T) -> pd.Timestamp:
    """``T`` as a tz-aware UTC timestamp (a naive one is taken as UTC)."""
    ts = pd.Timestamp(T)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col, utc=True)


def known_at(frame: pd.DataFrame, time_col: str, T) -> pd.DataFrame:
    """Rows of ``frame`` known at ``T``: ``time_col <= T`` and ``updated_at`` null or ``<= T``."""
    T = as_instant(T)
    mask = (_utc(frame[time_col]) <= T).fillna(False)
    if "updated_at" in frame.columns:
        upd = _utc(frame["updated_at"])
        mask &= (upd.isna() | (upd <= T)).fillna(True)
    return frame.loc[mask.to_numpy(dtype=bool)]


def active_enrollments_at(enrollments: pd.DataFrame, T) -> pd.DataFrame:
    """Enrollments active at ``T`` (``docs/raw-schema.md``), timestamps as UTC."""
    T = as_instant(T)
    e = enrollments.assign(
        enrolled_at=_utc(enrollments["enrolled_at"]),
        completed_at=_utc(enrollments["completed_at"]),
        withdrawn_at=_utc(enrollments["withdrawn_at"]),
    )
    mask = (
        (e["enrolled_at"] <= T).fillna(False)
        & (e["completed_at"].isna() | (e["completed_at"] > T))
        & (e["withdrawn_at"].isna() | (e["withdrawn_at"] > T))
    )
    return e.loc[mask.to_numpy(dtype=bool)]


def progress_at(events_known: pd.DataFrame, active: pd.DataFrame) -> pd.Series:
    """Progress at T per active (user_id, course_id): clip(sum of known progress_delta, 0, 100)."""
    keys = pd.MultiIndex.from_frame(active[["user_id", "course_id"]].drop_duplicates())
    gained = (
        events_known.groupby(["user_id", "course_id"])["progress_delta"].sum()
        if len(events_known)
        else pd.Series(dtype=float)
    )
    return gained.reindex(keys, fill_value=0.0).astype(float).clip(0.0, 100.0).rename("progress")


def _count_by_user(frame: pd.DataFrame, users: pd.Index) -> pd.Series:
    return frame.groupby("user_id").size().reindex(users, fill_value=0).astype(float)


def _sum_by_user(frame: pd.DataFrame, col: str, users: pd.Index) -> pd.Series:
    return frame.groupby("user_id")[col].sum().reindex(users, fill_value=0.0).astype(float)


def current_streak(days: pd.DataFrame, T) -> pd.Series:
    """Consecutive active UTC days ending on T's day or the day before, per user.

    ``days``: one row per (user_id, day) with ``day`` a UTC-midnight timestamp <= T.
    Vectorised: with days sorted newest first and r their rank (0, 1, ...), a day belongs to
    the run that ends on the newest day exactly when ``lag - r`` equals the newest lag, where
    lag = whole days between the day and T's day.
    """
    T = as_instant(T)
    if days.empty:
        return pd.Series(dtype=float)
    d = days.drop_duplicates(["user_id", "day"]).sort_values(["user_id", "day"], ascending=[True, False])
    lag = ((T.floor("D") - d["day"]) / DAY).astype(int)
    rank = d.groupby("user_id").cumcount()
    newest = lag.groupby(d["user_id"]).transform("min")
    in_run = ((lag - rank) == newest) & (newest <= 1)
    return in_run.groupby(d["user_id"]).sum().astype(float)


def build_features(
    learning_events: pd.DataFrame,
    enrollments: pd.DataFrame,
    assessment_results: pd.DataFrame,
    T,
    config: FeatureConfig = FeatureConfig(),
) -> pd.DataFrame:
    """Feature frame indexed by ``user_id`` for learners with an active enrollment at ``T``."""
    T = as_instant(T)
    active = active_enrollments_at(enrollments, T)
    users = pd.Index(active["user_id"].unique(), name="user_id").sort_values()
    out = pd.DataFrame(index=users)
    if users.empty:
        return out.assign(**{c: pd.Series(dtype=float) for c in feature_columns(config)})

    ev = known_at(learning_events, "occurred_at", T)
    ev = ev.loc[ev["user_id"].isin(users)]
    ev = ev.assign(
        occurred_at=_utc(ev["occurred_at"]),
        progress_delta=pd.to_numeric(ev["progress_delta"]).fillna(0.0).astype(float),
        duration_seconds=pd.to_numeric(ev["duration_seconds"]).fillna(0.0).astype(float),
    )
    ev = ev.assign(age_days=(T - ev["occurred_at"]) / DAY, day=ev["occurred_at"].dt.floor("D"))

    last = ev.groupby("user_id")["occurred_at"].max().reindex(users)
    first_enrolled = active.groupby("user_id")["enrolled_at"].min().reindex(users)
    ref = last.where(last.notna(), first_enrolled)
    out["days_since_last_activity"] = ((T - ref) / DAY).astype(float).clip(0.0, config.max_inactive_days)
    out["never_active"] = last.isna().astype(float)

    for w in config.windows_days:
        win = ev.loc[ev["age_days"] < w]
        out[f"events_{w}d"] = _count_by_user(win, users)
        out[f"active_days_{w}d"] = (
            win.groupby("user_id")["day"].nunique().reindex(users, fill_value=0).astype(float)
        )
        out[f"minutes_{w}d"] = _sum_by_user(win, "duration_seconds", users) / 60.0

    h = config.trend_days
    out["progress_last_14d"] = _sum_by_user(ev.loc[ev["age_days"] < h], "progress_delta", users)
    out["progress_prev_14d"] = _sum_by_user(
        ev.loc[(ev["age_days"] >= h) & (ev["age_days"] < 2 * h)], "progress_delta", users
    )
    out["progress_change"] = out["progress_last_14d"] - out["progress_prev_14d"]

    prog = progress_at(ev, active)
    out["mean_progress"] = prog.groupby(level="user_id").mean().reindex(users).astype(float)
    out["n_active_enrollments"] = active.groupby("user_id").size().reindex(users, fill_value=0).astype(float)

    res = known_at(assessment_results, "submitted_at", T)
    res = res.loc[res["user_id"].isin(users)]
    res = res.loc[((T - _utc(res["submitted_at"])) / DAY < config.assessment_window_days).to_numpy(dtype=bool)]
    score = pd.to_numeric(res["score"]).astype(float)
    passed = (score >= pd.to_numeric(res["passing_score"]).astype(float)).astype(float)
    res = res.assign(score=score, passed=passed)
    g = res.groupby("user_id")
    out["assessment_avg"] = g["score"].mean().reindex(users).astype(float)
    out["assessment_pass_share"] = g["passed"].mean().reindex(users).astype(float)
    out["assessments_recent"] = _count_by_user(res, users)

    out["current_streak"] = current_streak(ev[["user_id", "day"]], T).reindex(users, fill_value=0.0)
    return out[feature_columns(config)]


def build_labels(
    learning_events: pd.DataFrame,
    learners: Iterable[str],
    T,
    horizon_days: int = 14,
) -> pd.Series:
    """``True`` for each learner with no learning event in ``(T, T + horizon_days]``.

    The caller is responsible for passing only events known at the instant the labels are
    used (``predict_drop_off`` restricts every input to rows known at its own ``T``).
    """
    T = as_instant(T)
    idx = pd.Index(pd.unique(np.asarray(list(learners), dtype=object)), name="user_id")
    occ = _utc(learning_events["occurred_at"])
    mask = ((occ > T) & (occ <= T + pd.Timedelta(days=horizon_days))).fillna(False)
    active_users = pd.Index(learning_events.loc[mask.to_numpy(dtype=bool), "user_id"].unique())
    return pd.Series(~idx.isin(active_users), index=idx, name="dropped_off", dtype=bool)
