"""Active days and streaks.

Active day
    A learner is active on a calendar day when at least one of their learning events
    (any ``event_type``) with ``occurred_at <= T`` falls on it.  The day is counted in the
    learner's organisation time zone (``organizations.settings.timezone``, passed in as a
    Series ``user_id -> tz name``); a missing or unknown time zone means UTC.  So an event
    at 23:30 UTC on 1 March is on 2 March for a Europe/Berlin organisation.
    ``daily_activity`` has one row per learner per active day:
    ``user_id, date, last_activity_at`` (``date`` is the local calendar day as a naive
    midnight ``datetime64``; ``last_activity_at`` the UTC instant of the day's last event).
    ``active_days`` additionally gives ``first_activity_at`` (the instant the day became
    active: the timestamp of the daily point award and of streak achievements).

Streak
    A run of consecutive active days.  Vectorised with the classic trick: within a learner,
    ``day_number − rank`` is constant along a run of consecutive days, so it identifies the
    run; ``cumcount`` within the run gives the position (``streak_day``: 1, 2, 3, ...).
    ``current_streak`` = length of the learner's latest run if its last day is T's local date
    or at most ``StreakRules.grace_days`` (default 1) days before it, else 0.
    ``longest_streak`` = length of the longest run up to T.

Caveat: the local date depends on the organisation's *current* time zone; changing it
re-buckets past events (days and hence ``user_id:date`` ledger origins may shift).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .rules import StreakRules, _as_utc

__all__ = ["active_days", "daily_activity", "streak_positions", "streaks", "timezone_by_user"]

DAILY_ACTIVITY_COLUMNS = ["user_id", "date", "last_activity_at"]
STREAK_COLUMNS = ["user_id", "current_streak", "longest_streak"]


def _valid_tz(name) -> str:
    if name is None or (isinstance(name, float) and np.isnan(name)) or name is pd.NA:
        return "UTC"
    try:
        ZoneInfo(str(name))
    except Exception:  # unknown / malformed zone name -> UTC
        return "UTC"
    return str(name)


def timezone_by_user(user_ids: pd.Series, org_timezones: pd.Series | None) -> pd.Series:
    """The (validated) time zone name of each entry of ``user_ids``; UTC when unknown.

    Validation runs once per distinct zone name, not per learner."""
    user_ids = pd.Series(user_ids).reset_index(drop=True)
    if org_timezones is None or len(org_timezones) == 0:
        return pd.Series("UTC", index=user_ids.index, dtype="str")
    mapping = pd.Series(org_timezones).astype("object")
    mapping.index = mapping.index.astype("str")
    mapping = mapping[~mapping.index.duplicated(keep="last")]
    raw = user_ids.map(mapping).astype("object")
    distinct = pd.unique(raw.dropna())
    valid = {name: _valid_tz(name) for name in distinct}
    return raw.map(valid).astype("object").fillna("UTC").astype("str")


def _local_day(ts_utc: pd.Series, tz: pd.Series) -> pd.Series:
    """Local calendar day (naive midnight) of each UTC instant, one conversion per zone."""
    out = pd.Series(pd.NaT, index=ts_utc.index, dtype="datetime64[us]")
    for name in pd.unique(tz):
        mask = (tz == name).to_numpy()
        local = ts_utc[mask].dt.tz_convert(name).dt.tz_localize(None).dt.normalize()
        out[mask] = local.astype("datetime64[us]")
    return out


def _local_date_of(T: pd.Timestamp, tz: pd.Series) -> pd.Series:
    """T's local calendar day for each entry of ``tz`` (one conversion per distinct zone)."""
    days = {name: T.tz_convert(name).tz_localize(None).normalize() for name in pd.unique(tz)}
    return tz.map(days).astype("datetime64[us]")


def _day_number(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy().astype("datetime64[D]").astype("int64")


def active_days(
    learning_events: pd.DataFrame,
    org_timezone_by_user: pd.Series | None,
    T,
) -> pd.DataFrame:
    """One row per learner per active local day:
    ``user_id, date, first_activity_at, last_activity_at, timezone``."""
    T = _as_utc(T)
    ev = learning_events[["user_id", "occurred_at"]].copy()
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    ev = ev.dropna(subset=["user_id", "occurred_at"])
    ev = ev[ev["occurred_at"] <= T].reset_index(drop=True)
    ev["user_id"] = ev["user_id"].astype("str")
    ev["timezone"] = timezone_by_user(ev["user_id"], org_timezone_by_user)
    ev["date"] = _local_day(ev["occurred_at"], ev["timezone"])
    days = (
        ev.groupby(["user_id", "date"], as_index=False, sort=True)
        .agg(
            first_activity_at=("occurred_at", "min"),
            last_activity_at=("occurred_at", "max"),
            timezone=("timezone", "first"),
        )
        .reset_index(drop=True)
    )
    return days[["user_id", "date", "first_activity_at", "last_activity_at", "timezone"]]


def daily_activity(
    learning_events: pd.DataFrame,
    org_timezone_by_user: pd.Series | None,
    T,
) -> pd.DataFrame:
    """``daily_activity`` rows (the seed table's columns): ``user_id, date, last_activity_at``."""
    return active_days(learning_events, org_timezone_by_user, T)[DAILY_ACTIVITY_COLUMNS]


def streak_positions(days: pd.DataFrame) -> pd.DataFrame:
    """``days`` (one row per user and date) sorted by user and date, with ``run`` (run id
    within the learner), ``streak_day`` (1-based position in the run) and ``run_length``."""
    d = days.drop_duplicates(["user_id", "date"]).sort_values(["user_id", "date"], kind="stable")
    d = d.reset_index(drop=True)
    rank = d.groupby("user_id", sort=False).cumcount().to_numpy()
    d["run"] = _day_number(d["date"]) - rank
    grp = d.groupby(["user_id", "run"], sort=False)
    d["streak_day"] = grp.cumcount().astype("int64") + 1
    d["run_length"] = grp["date"].transform("size").astype("int64")
    return d


def streaks(
    daily_activity: pd.DataFrame,
    T,
    org_timezone_by_user: pd.Series | None = None,
    rules: StreakRules = StreakRules(),
) -> pd.DataFrame:
    """``user_id, current_streak, longest_streak`` for every learner with an active day <= T."""
    T = _as_utc(T)
    d = daily_activity[["user_id", "date", "last_activity_at"]].copy()
    d["user_id"] = d["user_id"].astype("str")
    d["date"] = pd.to_datetime(d["date"]).astype("datetime64[us]")
    d["last_activity_at"] = pd.to_datetime(d["last_activity_at"], utc=True)
    d = d.dropna(subset=["user_id", "date"]).reset_index(drop=True)
    t_day = _local_date_of(T, timezone_by_user(d["user_id"], org_timezone_by_user))
    keep = (d["date"] <= t_day) & ~(d["last_activity_at"] > T)
    d = d[keep.to_numpy()]
    if d.empty:
        return pd.DataFrame(
            {"user_id": pd.Series(dtype="str"), "current_streak": pd.Series(dtype="int64"),
             "longest_streak": pd.Series(dtype="int64")}
        )
    p = streak_positions(d)
    last = p.groupby("user_id", sort=True).tail(1).set_index("user_id")
    longest = p.groupby("user_id", sort=True)["run_length"].max()
    last_t_day = _local_date_of(T, timezone_by_user(last.index.to_series(), org_timezone_by_user))
    gap_days = _day_number(last_t_day) - _day_number(last["date"])
    current = np.where(gap_days <= rules.grace_days, last["streak_day"].to_numpy(), 0)
    out = pd.DataFrame(
        {
            "user_id": last.index.astype("str"),
            "current_streak": current.astype("int64"),
            "longest_streak": longest.reindex(last.index).to_numpy().astype("int64"),
        }
    )
    return out.reset_index(drop=True)
