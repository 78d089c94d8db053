"""Helpers shared by the six learner analytics (pure pandas, no I/O).

Conventions used by every category:

- ``T`` is a tz-aware UTC ``pd.Timestamp``; a window of ``d`` days is the half-open interval
  ``(T - d days, T]``.
- Source rows after ``T`` are ignored (events: ``occurred_at``, results: ``submitted_at``,
  user skills: ``last_assessed_at``), so recomputing the same ``T`` later gives the same values.
- Active enrollment at T (docs/raw-schema.md): ``enrolled_at <= T`` and not completed nor
  withdrawn at or before ``T``.
- Trend rule: relative change ``(recent - previous) / previous`` in percent; above
  ``+threshold`` is "up", below ``-threshold`` "down", else "stable". Both zero: 0 %.
  Previous zero and recent positive: the cap (+999.99 %), recent zero after a positive
  previous: -100 %. Percentages are clipped to ``±PERCENT_CAP`` so that they fit the seed's
  ``numeric(5,2)`` columns.
- JSON values are built by :func:`records`: NaN/NaT become ``None``, timestamps become ISO-8601
  UTC strings (``2025-01-31T23:59:59Z``), numpy scalars become Python scalars.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np
import pandas as pd

#: Largest absolute value that fits ``numeric(5,2)``.
PERCENT_CAP = 999.99
#: Default time-to-live of an analytics row.
DEFAULT_TTL = pd.Timedelta(hours=24)
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: Columns every output frame ends with.
STAMP_COLUMNS = ["calculated_at", "expires_at"]


def utc(ts: pd.Timestamp | str) -> pd.Timestamp:
    """``ts`` as a tz-aware UTC timestamp (naive values are taken as UTC)."""
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def to_utc_series(s: pd.Series) -> pd.Series:
    """A timestamp column as tz-aware UTC datetimes (naive values are taken as UTC)."""
    s = pd.to_datetime(s, utc=True)
    return s


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def frame_or_empty(df: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    """``df`` restricted to ``columns`` (missing frame -> empty frame with those columns)."""
    if df is None:
        return empty_frame(columns)
    return df.loc[:, list(columns)]


def active_enrollments(enrollments: pd.DataFrame | None, T: pd.Timestamp) -> pd.DataFrame:
    """Enrollments active at ``T``: enrolled at or before T, not completed/withdrawn by T.

    Returns the rows (all given columns) with timestamp columns normalised to UTC.
    """
    cols = ["user_id", "course_id", "enrolled_at", "target_completion_at", "completed_at",
            "withdrawn_at", "progress_percent"]
    if enrollments is None:
        return empty_frame(cols)
    e = enrollments.copy()
    for c in ("enrolled_at", "target_completion_at", "completed_at", "withdrawn_at"):
        if c in e.columns:
            e[c] = to_utc_series(e[c])
        else:
            e[c] = pd.Series(pd.NaT, index=e.index, dtype="datetime64[us, UTC]")
    mask = (
        e["enrolled_at"].le(T)
        & (e["completed_at"].isna() | e["completed_at"].gt(T))
        & (e["withdrawn_at"].isna() | e["withdrawn_at"].gt(T))
    )
    return e.loc[mask]


def active_learners(enrollments: pd.DataFrame | None, T: pd.Timestamp) -> pd.Index:
    """Sorted ids of the learners with at least one active enrollment at ``T``."""
    act = active_enrollments(enrollments, T)
    return pd.Index(np.sort(act["user_id"].astype(str).unique()), name="user_id")


def until(df: pd.DataFrame | None, column: str, T: pd.Timestamp, columns: Sequence[str],
          days: float | None = None) -> pd.DataFrame:
    """Rows of ``df`` with ``column`` in ``(T - days, T]`` (``days`` None: ``<= T``).

    Only ``columns`` are kept (memory); ``column`` is normalised to UTC. Rows are not
    assumed to be sorted (late-arriving rows are fine).
    """
    cols = list(dict.fromkeys([*columns, column]))
    if df is None:
        return empty_frame(cols)
    out = df.loc[:, cols]
    ts = to_utc_series(out[column])
    mask = ts.le(T)
    if days is not None:
        mask &= ts.gt(T - pd.Timedelta(days=days))
    out = out.loc[mask.to_numpy()]
    out[column] = ts[mask.to_numpy()]
    return out


def user_skills_at(user_skills: pd.DataFrame | None, T: pd.Timestamp) -> pd.DataFrame:
    """``user_skills`` rows known at ``T``.

    The table holds each skill's *current* level; a row last assessed after ``T`` carries a
    level that did not exist at ``T`` and is left out (treated as not assessed).
    """
    cols = ["user_id", "skill_id", "mastery_level", "last_assessed_at"]
    if user_skills is None:
        return empty_frame(cols)
    us = user_skills.loc[:, cols].copy()
    us["last_assessed_at"] = to_utc_series(us["last_assessed_at"])
    us = us.loc[us["last_assessed_at"].isna() | us["last_assessed_at"].le(T)]
    us["mastery_level"] = pd.to_numeric(us["mastery_level"]).astype(float).fillna(0.0)
    return us


def percent_change(recent, previous, cap: float = PERCENT_CAP, decimals: int = 9) -> np.ndarray:
    """Vectorised relative change in percent, clipped to ``±cap`` (see module docstring).

    Rounded to ``decimals`` = 9 only to remove float noise (11 vs 10 is exactly +10 %, i.e.
    ``stable``): classify this value, and round for display once, at the edge
    (:func:`clip_numeric`)."""
    recent = np.asarray(recent, dtype=float)
    previous = np.asarray(previous, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (recent - previous) / np.abs(previous) * 100.0
    pct = np.where(previous == 0, np.where(recent > 0, cap, np.where(recent < 0, -cap, 0.0)),
                   pct)
    return np.round(np.clip(pct, -cap, cap), decimals)


def classify_trend(pct, up: str, down: str, threshold: float = 10.0,
                   stable: str = "stable") -> np.ndarray:
    """``up`` above ``+threshold`` %, ``down`` below ``-threshold`` %, else ``stable``."""
    pct = np.asarray(pct, dtype=float)
    return np.where(pct > threshold, up, np.where(pct < -threshold, down, stable)).astype(object)


def clip_numeric(values, cap: float = PERCENT_CAP, decimals: int = 2) -> np.ndarray:
    """Round to ``decimals`` and clip to ``±cap`` (``numeric(5,2)``)."""
    return np.clip(np.round(np.asarray(values, dtype=float), decimals), -cap, cap)


def round_half_up(values) -> np.ndarray:
    """Round to whole numbers, halves away from zero for positives (0.5 -> 1)."""
    return np.floor(np.asarray(values, dtype=float) + 0.5)


def stamp(df: pd.DataFrame, T: pd.Timestamp, ttl: pd.Timedelta) -> pd.DataFrame:
    """Add ``calculated_at`` (= T) and ``expires_at`` (= T + ttl)."""
    df = df.copy()
    df["calculated_at"] = pd.Series(T, index=df.index, dtype="datetime64[us, UTC]")
    df["expires_at"] = pd.Series(T + ttl, index=df.index, dtype="datetime64[us, UTC]")
    return df


def iso(s: pd.Series) -> pd.Series:
    """Timestamps as ISO-8601 UTC strings (object dtype, ``None`` for NaT)."""
    s = to_utc_series(s)
    out = s.dt.strftime(ISO_FORMAT).astype(object)
    return out.where(s.notna(), None)


def records(df: pd.DataFrame, columns: dict[str, str]) -> pd.Series:
    """One JSON-ready dict per row: ``{json_key: value}`` for ``columns = {column: json_key}``.

    Datetime columns become ISO strings, NaN becomes ``None``, numbers Python scalars. Built
    column-wise (``tolist`` per column, ``dict(zip(keys, row))`` mapped in C): several times
    faster than ``DataFrame.to_dict("records")``.
    """
    values = []
    for col in columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
            values.append(iso(s).tolist())
        else:
            s = s.astype(object)
            values.append(s.where(pd.notna(s), None).tolist())
    keys = list(columns.values())
    return pd.Series(list(map(dict, map(zip, repeat(keys), zip(*values)))) if keys else
                     [{} for _ in range(len(df))], index=df.index, dtype=object)


def per_learner(values: pd.Series, keys: pd.Series, learners: pd.Index,
                default: Callable[[], object] = list, how: str = "list") -> pd.Series:
    """Collect ``values`` per learner (``how='list'``: list in current row order;
    ``how='first'``: first non-null value), reindexed on ``learners`` with ``default()`` for
    absent ones (keys not in ``learners`` are dropped).

    Vectorised: learner codes, a stable sort, one split of the values at the group bounds.
    """
    if len(learners) == 0:
        return pd.Series([], index=learners, dtype=object)
    codes = learners.get_indexer(pd.Index(keys))
    vals = np.asarray(values.to_numpy(), dtype=object)
    if how == "first":
        keep = (codes >= 0) & pd.notna(values).to_numpy()
    else:
        keep = codes >= 0
    codes, vals = codes[keep], vals[keep]
    order = np.argsort(codes, kind="stable")
    codes, vals = codes[order], vals[order]
    counts = np.bincount(codes, minlength=len(learners))
    present = counts > 0
    if how == "first":
        out = np.empty(len(learners), dtype=object)
        out[present] = vals[np.cumsum(counts)[present] - counts[present]]
    else:  # a Series, not an array: lists of equal length would broadcast to 2-D
        out = pd.Series(list(map(list, np.split(vals, np.cumsum(counts)[:-1]))),
                        dtype=object).to_numpy(copy=True)
    missing = ~present
    if missing.any():
        out[missing] = pd.Series([default() for _ in range(int(missing.sum()))], dtype=object
                                 ).to_numpy()
    return pd.Series(out, index=learners, dtype=object)


def finish(df: pd.DataFrame, columns: Sequence[str], T: pd.Timestamp,
           ttl: pd.Timedelta) -> pd.DataFrame:
    """Stamp, order the columns and reset the index (``user_id`` as a column)."""
    out = stamp(df, T, ttl)
    out = out.reset_index(drop=False) if "user_id" not in out.columns else out
    return out.loc[:, ["user_id", *columns, *STAMP_COLUMNS]].reset_index(drop=True)
