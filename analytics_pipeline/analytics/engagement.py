"""Engagement (table ``engagement_analytics``).

Who gets a row: every learner with at least one active enrollment at ``T``. All of the
learner's learning events count (any course), up to and including ``T``.

Sessions: the learner's events of the last ``trend_weeks`` x 7 = 56 days ``(T-56d, T]``,
ordered by (occurred_at, duration_seconds); a new session starts when the gap to the
previous event is **more than** 30 minutes (exactly 30 minutes stays in the session). A
session lasts from its first event to its last event plus that event's
``duration_seconds`` (null = 0) and belongs to the week/window of its first event. (A session
running across the 56-day boundary is cut there.)

Over W = ``(T-28d, T]``:

- ``sessions_per_week`` = sessions in W / (28 / 7);
- ``avg_session_duration`` = mean session length in W in whole minutes (half up), 0 without
  sessions;
- ``last_active`` = the latest event at or before T (any time, not only in W; the warehouse
  read adds the learner's retained activity summary, so an event deleted by retention still
  counts); **null** for a learner without any event (an enrollment is not an activity;
  migration 0012 drops the seed's NOT NULL);
- ``engagement_by_type`` = ``{content_type: share}`` of the summed ``duration_seconds`` of
  the events in W per content type, rounded to 4 decimals (sums to 1 up to rounding);
  ``{}`` when there is no time; a null content type is reported as ``"unknown"``;
- ``overall_score`` = round_half_up(100 x (0.35 F + 0.25 D + 0.25 R + 0.15 B)) with
  F = min(sessions_per_week / 5, 1), D = min(avg_session_duration / 60, 1) (the whole
  minutes shown), R = 0.5 ^ (days from last event to T / 7) (0 with no event ever),
  B = min(distinct non-null content types in W / 5, 1).

``weekly_trend``: the same score for each of the last 8 weeks, oldest first; week ``k``
(k = 0 the latest) is ``(T-7(k+1)d, T-7k d]``, F uses that week's sessions (per week, so
/ 5), D its sessions' mean whole minutes, B its distinct types, R the time from the last
event at or before the week's end to the week's end. ``trend`` = ``rising`` / ``falling`` /
``stable`` by the +-10 % rule on (sum of the last two weeks) against (sum of the two before);
both zero: ``stable``; from zero to positive: ``rising``.

Inputs from the daily activity rollup (issue 18, ``session_parts``): sessions are built by
:func:`stitch` from *session parts* — the sessions of each learner's events cut at the UTC day
bins ``(day, day + 1]`` (start, last event, last event's duration) — exactly as from the
events: two parts join when the first event of the later one follows the last event of the
earlier one by at most the gap. With parts, ``learning_events`` may hold one row per learner,
day and content type, or per learner, course, day and content type (the rollup's cells:
``occurred_at`` = the cell's last event, ``duration_seconds`` = the cell's sum): every other value is a per-day or per-week max, sum or distinct count. Only for a ``T``
at UTC midnight (the day bins then fall inside the weeks).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import common

TABLE = "engagement_analytics"
COLUMNS = ["overall_score", "trend", "sessions_per_week", "avg_session_duration",
           "last_active", "engagement_by_type", "weekly_trend"]


@dataclass(frozen=True)
class EngagementConfig:
    window_days: int = 28
    session_gap_minutes: float = 30.0
    trend_weeks: int = 8
    trend_compare_weeks: int = 2
    trend_threshold_pct: float = 10.0
    weight_frequency: float = 0.35
    weight_duration: float = 0.25
    weight_recency: float = 0.25
    weight_breadth: float = 0.15
    target_sessions_per_week: float = 5.0
    target_session_minutes: float = 60.0
    recency_half_life_days: float = 7.0
    breadth_types: int = 5
    share_decimals: int = 4
    ttl: pd.Timedelta = common.DEFAULT_TTL


def _score(cfg: EngagementConfig, sessions_per_week, minutes, days_since, n_types) -> np.ndarray:
    f = np.minimum(np.asarray(sessions_per_week, float) / cfg.target_sessions_per_week, 1.0)
    d = np.minimum(np.asarray(minutes, float) / cfg.target_session_minutes, 1.0)
    days = np.asarray(days_since, float)
    r = np.where(np.isnan(days), 0.0, 0.5 ** (np.nan_to_num(days, nan=0.0)
                                             / cfg.recency_half_life_days))
    b = np.minimum(np.asarray(n_types, float) / cfg.breadth_types, 1.0)
    raw = 100.0 * (cfg.weight_frequency * f + cfg.weight_duration * d
                   + cfg.weight_recency * r + cfg.weight_breadth * b)
    return common.round_half_up(raw).astype("int64")


#: Columns of session parts: one row per session of a learner's events cut at UTC day bins.
PART_COLUMNS = ["user_id", "start_at", "last_at", "last_duration"]


def _part_order(parts: pd.DataFrame) -> np.ndarray:
    """Positions of ``parts`` (integer ``user_id``: learner positions) ordered by (user_id,
    start_at, last_duration), ties in their order: what a stable ``sort_values`` by these columns
    gives (NaT and NaN last), one ``np.lexsort`` of numpy arrays instead of pandas' sort by three
    keys (issue 18: the larger part of stitching M's 500,000 parts)."""
    start = parts["start_at"]
    start = start.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(
        start.dtype, pd.DatetimeTZDtype) else start
    return np.lexsort((parts["last_duration"].to_numpy(dtype=float),
                       start.to_numpy(dtype="datetime64[us]"),
                       parts["user_id"].to_numpy(dtype="int64")))


def stitch(parts: pd.DataFrame, gap: pd.Timedelta) -> pd.DataFrame:
    """Sessions of session parts (columns :data:`PART_COLUMNS`; ``last_duration`` = the
    duration of the part's last event, null = 0, as ordered by (time, duration)).

    A part opens a new session when it is the learner's first or starts more than ``gap``
    after the previous part's last event. Returns one row per session, ordered by learner and
    start: user_id, start, end (last event + its duration), seconds, minutes. Means of session
    lengths are taken over ``seconds`` (whole seconds add up exactly; sixtieths do not, so a
    mean of exactly x.5 minutes could round either way with the order of summation).
    """
    p = parts.take(_part_order(parts)) if len(parts) and pd.api.types.is_integer_dtype(
        parts["user_id"]) else parts.sort_values(["user_id", "start_at", "last_duration"],
                                                 kind="stable")
    same_user = p["user_id"].eq(p["user_id"].shift())
    new = ~same_user | (p["start_at"] - p["last_at"].shift()).gt(gap)
    sid = new.cumsum().rename("session")
    p = p.assign(session=sid.to_numpy(),
                 end=p["last_at"] + pd.to_timedelta(p["last_duration"], unit="s"))
    g = p.groupby("session", sort=False)
    s = pd.DataFrame({"user_id": g["user_id"].first(), "start": g["start_at"].first(),
                      "end": g["end"].last()})
    s["seconds"] = (s["end"] - s["start"]) / pd.Timedelta(seconds=1)
    s["minutes"] = s["seconds"] / 60.0
    return s.reset_index(drop=True)


def sessionise(ev: pd.DataFrame, gap: pd.Timedelta) -> pd.DataFrame:
    """Sessions of events (columns user_id, occurred_at, duration_seconds): :func:`stitch` of
    one part per event (events ordered by (time, duration))."""
    return stitch(pd.DataFrame({"user_id": ev["user_id"], "start_at": ev["occurred_at"],
                                "last_at": ev["occurred_at"],
                                "last_duration": ev["duration_seconds"]}), gap)


def _positions(frame: pd.DataFrame, learners: pd.Index) -> pd.DataFrame:
    """``frame``'s rows of ``learners``, ``user_id`` replaced by the learner's position in
    ``learners`` (int64)."""
    at = learners.get_indexer(frame["user_id"].astype(str))
    keep = at >= 0
    return frame.loc[keep].assign(user_id=at[keep].astype("int64"))


def compute_engagement(enrollments: pd.DataFrame, learning_events: pd.DataFrame | None,
                       T: pd.Timestamp, config: EngagementConfig = EngagementConfig(),
                       session_parts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per learner with an active enrollment at ``T`` (see module docstring).

    ``session_parts``: the session parts (:data:`PART_COLUMNS`) of the learners' events in
    ``(T - 7 trend_weeks d, T]``, cut at UTC day bins; sessions are then stitched from them
    instead of sessionised from ``learning_events`` (``T`` must be UTC midnight)."""
    T = common.utc(T)
    if session_parts is not None and T != T.normalize():
        raise ValueError(f"session parts are cut at UTC days: T must be UTC midnight, not {T}")
    cfg = config
    learners = common.active_learners(enrollments, T)
    n = len(learners)
    weeks = cfg.trend_weeks
    span = weeks * 7

    # learners as their positions in ``learners`` from here on (0 .. n - 1; rows of others
    # dropped): every grouping and the sessions' sort then work on integers, not on strings
    pos = pd.RangeIndex(n, name="user_id")
    ev = common.until(learning_events, "occurred_at", T,
                      ["user_id", "occurred_at", "duration_seconds", "content_type"])
    ev = _positions(ev, learners)
    ev["duration_seconds"] = pd.to_numeric(ev["duration_seconds"]).astype(float).fillna(0.0)
    age = ((T - ev["occurred_at"]) / pd.Timedelta(days=1)).to_numpy()
    last_event = ev.groupby("user_id")["occurred_at"].max().reindex(pos)
    prior_age = pd.Series(age[age >= span], index=ev.index[age >= span]).groupby(
        ev.loc[age >= span, "user_id"]).min().reindex(pos)
    recent = ev.loc[age < span].copy()
    recent["age"] = age[age < span]
    recent["week"] = (recent["age"] // 7).astype("int64")
    recent["in_w"] = recent["age"] < cfg.window_days

    gap = pd.Timedelta(minutes=cfg.session_gap_minutes)
    if session_parts is None:
        sess = sessionise(recent[["user_id", "occurred_at", "duration_seconds"]], gap)
    else:
        p = _positions(session_parts[PART_COLUMNS], learners)
        p = p.loc[p["start_at"].gt(T - pd.Timedelta(days=span)) & p["last_at"].le(T)]
        sess = stitch(p.assign(last_duration=pd.to_numeric(p["last_duration"]).astype(float)
                               .fillna(0.0)), gap)
    s_age = (T - sess["start"]) / pd.Timedelta(days=1)
    sess["week"] = (s_age // 7).astype("int64")
    sess["in_w"] = s_age < cfg.window_days

    out = pd.DataFrame(index=pos)
    # --- window W ---------------------------------------------------------------------
    sw = sess.loc[sess["in_w"]].groupby("user_id")["seconds"].agg(["size", "mean"])
    sw = sw.reindex(pos)
    sw["mean"] = sw["mean"] / 60.0  # mean minutes from the exact mean of seconds
    n_sessions = sw["size"].fillna(0).to_numpy()
    out["sessions_per_week"] = common.clip_numeric(n_sessions / (cfg.window_days / 7.0))
    minutes = common.round_half_up(sw["mean"].fillna(0.0).to_numpy())
    out["avg_session_duration"] = minutes.astype("int64")
    ew = recent.loc[recent["in_w"]]
    typed = ew["content_type"].dropna()
    n_types = typed.groupby(ew.loc[typed.index, "user_id"]).nunique().reindex(pos).fillna(0)
    days_since = ((T - last_event) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    out["overall_score"] = _score(cfg, out["sessions_per_week"], minutes, days_since,
                                  n_types.to_numpy())
    out["last_active"] = last_event.astype("datetime64[us, UTC]")

    # engagement_by_type: {type: share} of time in W.
    t = ew.assign(content_type=ew["content_type"].astype(object).fillna("unknown"))
    t = t.groupby(["user_id", "content_type"], sort=True)["duration_seconds"].sum()
    t = t.loc[t > 0]
    share = (t / t.groupby(level="user_id").transform("sum")).round(cfg.share_decimals)
    pairs = pd.Series(list(zip(share.index.get_level_values("content_type").tolist(),
                               share.tolist())), dtype=object)
    by_type = common.per_learner(pairs, share.index.get_level_values("user_id"), pos)
    out["engagement_by_type"] = pd.Series(list(map(dict, by_type)), index=pos, dtype=object)

    # --- weekly scores, oldest first (columns weeks-1 ... 0) -----------------------------
    cols = np.arange(weeks - 1, -1, -1)
    ws = sess.groupby(["user_id", "week"])["seconds"].agg(["size", "mean"])
    ws["mean"] = ws["mean"] / 60.0
    w_n = ws["size"].unstack().reindex(index=pos, columns=cols).fillna(0).to_numpy()
    w_min = common.round_half_up(
        ws["mean"].unstack().reindex(index=pos, columns=cols).fillna(0.0).to_numpy())
    rt = recent.loc[recent["content_type"].notna()]
    w_types = rt.groupby(["user_id", "week"])["content_type"].nunique().unstack().reindex(
        index=pos, columns=cols).fillna(0).to_numpy()
    # days from each week's last event back to T; running min from the oldest week on gives
    # the last event at or before each week's end (the "prior" column: before the 8 weeks).
    w_last = recent.groupby(["user_id", "week"])["age"].min().unstack().reindex(
        index=pos, columns=cols)
    w_last.insert(0, "prior", prior_age)
    before_t = np.fmin.accumulate(w_last.to_numpy(dtype=float), axis=1)[:, 1:]
    w_days = before_t - 7.0 * cols[None, :]
    scores = _score(cfg, w_n, w_min, w_days, w_types).reshape(n, weeks)
    out["weekly_trend"] = pd.Series(scores.tolist(), index=pos, dtype=object)
    c = cfg.trend_compare_weeks
    recent_sum = scores[:, weeks - c:].sum(axis=1)
    previous_sum = scores[:, weeks - 2 * c: weeks - c].sum(axis=1)
    pct = common.percent_change(recent_sum, previous_sum)
    out["trend"] = common.classify_trend(pct, "rising", "falling", cfg.trend_threshold_pct)
    out.index = learners
    return common.finish(out, COLUMNS, T, cfg.ttl)
