"""content_effectiveness.events_from_item_cells: the events read from per (learner, item, day) cells
(issue 18) answer every window of at least a day as the raw events do."""
import numpy as np
import pandas as pd

from analytics_pipeline.analytics.content_effectiveness import events_from_item_cells

D = pd.Timestamp("2025-04-01", tz="UTC")
NAT = pd.NaT


def _at(hours):
    return D + pd.Timedelta(hours=hours)


def test_each_instant_once_by_hand():
    cells = pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2", "u3"],
        "content_id": ["i1", "i2", "i1", "i3", "i1"],
        # u1 i1: two progress events; u1 i2: first and last are completions; u2 i1: one
        # completion; u2 i3: the first before the retention bound (NULL); u3 i1: one event
        "first_at": [_at(10), _at(10), _at(9), NAT, _at(7)],
        "last_at": [_at(12), _at(11), _at(9), _at(8), _at(7)],
        "first_completed_at": [NAT, _at(10), _at(9), NAT, NAT],
        "last_completed_at": [NAT, _at(11), _at(9), NAT, NAT]})
    got = events_from_item_cells(cells).sort_values(["user_id", "content_id", "occurred_at"]) \
        .reset_index(drop=True)
    expected = pd.DataFrame({
        "user_id": ["u1", "u1", "u1", "u1", "u2", "u2", "u3"],
        "content_id": ["i1", "i1", "i2", "i2", "i1", "i3", "i1"],
        "event_type": ["progressed", "progressed", "completed", "completed", "completed",
                       "progressed", "progressed"],
        "occurred_at": [_at(10), _at(12), _at(10), _at(11), _at(9), _at(8), _at(7)]})
    pd.testing.assert_frame_equal(got.astype(object), expected.astype(object))


def _cells(events: pd.DataFrame) -> pd.DataFrame:
    """The rollup's cells by plain pandas: bins (day, day + 1]."""
    day = (events["occurred_at"] - pd.Timedelta(microseconds=1)).dt.floor("D")
    done = events["occurred_at"].where(events["event_type"].eq("completed"))
    g = events.assign(day=day, done=done).groupby(["user_id", "content_id", "day"])
    return g.agg(first_at=("occurred_at", "min"), last_at=("occurred_at", "max"),
                 first_completed_at=("done", "min"), last_completed_at=("done", "max")).reset_index()


def _answers(events: pd.DataFrame, windows: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list:
    """Per window, the (learner, item) pairs with an event and those with a completion in it."""
    out = []
    for a, b in windows:
        inside = events.loc[events["occurred_at"].between(a, b)]
        done = inside.loc[inside["event_type"].eq("completed")]
        out.append((set(zip(inside["user_id"], inside["content_id"])),
                    set(zip(done["user_id"], done["content_id"]))))
    return out


def test_windows_of_a_day_or_more_get_the_raw_answers_and_shorter_ones_may_not():
    rng = np.random.default_rng(7)
    n = 3000
    occurred = D + pd.to_timedelta(rng.integers(0, 30 * 24 * 60, n), unit="min")
    occurred = occurred.where(rng.random(n) > 0.1, occurred.floor("D"))  # some at exactly 00:00
    events = pd.DataFrame({"user_id": np.array(["u1", "u2", "u3"])[rng.integers(0, 3, n)],
                           "content_id": np.array([f"i{k}" for k in range(20)])[rng.integers(0, 20, n)],
                           "event_type": np.array(["started", "progressed", "completed"])[rng.integers(0, 3, n)],
                           "occurred_at": occurred})
    cells = _cells(events)
    read = events_from_item_cells(cells)
    assert len(read) < len(events)
    starts = D + pd.to_timedelta(rng.integers(0, 20 * 24 * 60, 200), unit="min")
    starts = starts.append(pd.DatetimeIndex(events["occurred_at"].iloc[:50]))  # on an event
    long = [(a, a + pd.Timedelta(days=float(w))) for a, w in zip(starts, rng.choice([1, 1.5, 7, 14], len(starts)))]
    assert _answers(read, long) == _answers(events, long)
    short = [(a, a + pd.Timedelta(hours=6)) for a in starts]
    assert _answers(read, short) != _answers(events, short)  # what the day-or-more guard is for
