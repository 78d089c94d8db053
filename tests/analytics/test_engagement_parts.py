"""Engagement from session parts and day rows (issue 18) equals engagement from the events.

The reference parts below are cut at UTC day bins by plain pandas (not the warehouse's SQL,
which tests/learner_analytics/test_engagement_rollup.py checks against the same raw path).
"""
import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.analytics import AnalyticsInputs, compute
from analytics_pipeline.analytics.engagement import (
    PART_COLUMNS, EngagementConfig, compute_engagement, sessionise, stitch)

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
MIN = pd.Timedelta(minutes=1)
GAP = pd.Timedelta(minutes=30)


def _day(occurred: pd.Series) -> pd.Series:
    """The UTC day whose bin (day, day + 1] holds the instant."""
    return (occurred - pd.Timedelta(microseconds=1)).dt.floor("D")


def _parts(ev: pd.DataFrame, gap: pd.Timedelta = GAP) -> pd.DataFrame:
    """Sessions of each learner's events within each UTC day bin."""
    ev = ev.assign(day=_day(ev["occurred_at"]),
                   d=pd.to_numeric(ev["duration_seconds"]).astype(float).fillna(0.0))
    ev = ev.sort_values(["user_id", "day", "occurred_at", "d"], kind="stable")
    cell = ev[["user_id", "day"]].ne(ev[["user_id", "day"]].shift()).any(axis=1)
    opens = cell | (ev["occurred_at"] - ev["occurred_at"].shift()).gt(gap)
    g = ev.assign(part=opens.cumsum()).groupby("part")
    return pd.DataFrame({"user_id": g["user_id"].first(), "start_at": g["occurred_at"].min(),
                         "last_at": g["occurred_at"].max(), "last_duration": g["d"].last()}
                        ).reset_index(drop=True)


def _day_rows(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per learner, day and content type: the day's last event and summed duration."""
    ev = ev.assign(day=_day(ev["occurred_at"]), t=ev["content_type"].fillna(""))
    rows = ev.groupby(["user_id", "day", "t"]).agg(
        occurred_at=("occurred_at", "max"),
        duration_seconds=("duration_seconds", lambda s: s.sum(min_count=1))).reset_index()
    return rows.assign(content_type=rows["t"].replace("", None))[
        ["user_id", "occurred_at", "duration_seconds", "content_type"]]


def _enrollments(users):
    return pd.DataFrame({"id": users, "user_id": users, "course_id": "c1",
                         "enrolled_at": T - 100 * DAY, "target_completion_at": pd.NaT,
                         "completed_at": pd.NaT, "withdrawn_at": pd.NaT,
                         "progress_percent": 0.0})


def _events(seed: int, n: int = 6000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = [f"u{i:02d}" for i in range(40)]
    # clustered in time so that sessions form, many crossing midnight
    base = T - pd.to_timedelta(rng.integers(0, 70 * 24 * 60, n // 6), unit="min")
    occurred = np.repeat(base, 6) + pd.to_timedelta(rng.integers(0, 50, n), unit="min")
    occurred = pd.Series(occurred)
    midnight = rng.random(n) < 0.05
    occurred = occurred.where(~midnight, occurred.dt.floor("D"))
    occurred.iloc[:20] = T - 56 * DAY + pd.to_timedelta(rng.integers(-40, 40, 20), unit="min")
    dur = rng.integers(0, 1800, n).astype(float)
    dur[rng.random(n) < 0.1] = np.nan
    types = np.array(["video", "reading", "quiz", "exercise", "project", None],
                     dtype=object)[rng.integers(0, 6, n)]
    return pd.DataFrame({"user_id": np.repeat(np.array(users)[rng.integers(0, 40, n // 6)], 6),
                         "occurred_at": occurred.to_numpy(), "duration_seconds": dur,
                         "content_type": types})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_rows_and_parts_give_the_rows_of_the_events(seed):
    ev = _events(seed)
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    users = sorted(ev["user_id"].unique())[:-3] + ["idle"]
    enr = _enrollments(users)
    raw = compute_engagement(enr, ev, T)
    window = ev[(ev["occurred_at"] > T - 56 * DAY) & (ev["occurred_at"] <= T)]
    parts = _parts(window)
    assert len(parts) < len(window) and parts["start_at"].ne(parts["last_at"]).any()
    via_parts = compute_engagement(enr, _day_rows(ev), T, session_parts=parts)
    pd.testing.assert_frame_equal(via_parts, raw)
    assert raw["trend"].nunique() > 1 and raw["avg_session_duration"].gt(30).any()
    # compute() passes the parts by keyword when present, not otherwise
    inputs = AnalyticsInputs(enrollments=enr, learning_events=_day_rows(ev), session_parts=parts)
    pd.testing.assert_frame_equal(compute("engagement", inputs, T), raw)


def test_parts_join_across_midnight_only_within_the_gap():
    a = T - 3 * DAY  # a midnight
    ev = pd.DataFrame({"user_id": "u1", "duration_seconds": [60.0, 120.0, 30.0, 45.0, np.nan],
                       "content_type": "video",
                       # 23:50 -> 00:00 (same day bin) -> 00:20 (next bin, within 30 min of
                       # 00:00: one session over midnight) -> 00:51 (31 min: a new session)
                       # -> 00:51 again (tie: the larger duration is the last event)
                       "occurred_at": [a - 10 * MIN, a, a + 20 * MIN, a + 51 * MIN,
                                       a + 51 * MIN]})
    parts = _parts(ev)
    assert len(parts) == 3  # cut at the bins (a - 1 day, a] and (a, a + 1 day]; 00:51 apart
    sessions = stitch(parts, GAP)
    assert sessions[["start", "end"]].values.tolist() == \
        sessionise(ev.assign(duration_seconds=ev["duration_seconds"].fillna(0.0)), GAP)[
            ["start", "end"]].values.tolist()
    assert sessions["seconds"].tolist() == [30 * 60 + 30.0, 45.0]


def test_parts_need_a_midnight_instant():
    ev = _events(4, 60)
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    with pytest.raises(ValueError, match="UTC midnight"):
        compute_engagement(_enrollments(["u01"]), ev, T + pd.Timedelta(hours=3),
                           session_parts=_parts(ev)[PART_COLUMNS])
    # the config's gap is the one the parts must have been cut with
    assert EngagementConfig().session_gap_minutes == 30.0


def test_stitch_orders_integer_learners_as_the_stable_sort_does():
    """compute_engagement stitches parts keyed by learner positions (ints): one np.lexsort
    instead of pandas' sort by three keys; the same sessions as with the learners' ids (the
    sort_values path), ties in start and duration, unsorted rows and both timestamp units."""
    rng = np.random.default_rng(18)
    n = 3000
    start = T - pd.to_timedelta(rng.integers(0, 3 * 24 * 60, n), unit="min")
    parts = pd.DataFrame({"user_id": rng.integers(0, 40, n).astype("int64"), "start_at": start,
                          "last_at": start + pd.to_timedelta(rng.integers(0, 3, n), unit="min"),
                          "last_duration": rng.integers(0, 3, n).astype(float) * 60})
    for frame in (parts, parts.assign(start_at=parts["start_at"].astype("datetime64[us, UTC]"))):
        by_position = stitch(frame, GAP)
        by_id = stitch(frame.assign(user_id=frame["user_id"].map("u{:03d}".format)), GAP)
        assert len(by_position) < n  # parts did join
        pd.testing.assert_frame_equal(
            by_position.assign(user_id=by_position["user_id"].map("u{:03d}".format)), by_id,
            check_dtype=False)
