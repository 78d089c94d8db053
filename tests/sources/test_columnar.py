"""Pure tests of the column-wise fast path: it accepts only what the row path accepts, with the same rows."""
from __future__ import annotations

import orjson
import pandas as pd
import pytest

from analytics_pipeline.sources.client import Page
from analytics_pipeline.sources.columnar import decode_page, validate_pages
from analytics_pipeline.sources.contract import validate_rows
from tests.sources.test_contract import TS, event


def page(resource: str, rows: list, cursor: str | None = None, number: int = 1) -> Page:
    """A page the way the client builds it from a response body."""
    body = orjson.dumps({"data": rows, "next_cursor": cursor})
    decoded = decode_page(resource, body)
    if decoded is None:
        return Page(resource, number, cursor, len(body), _rows=rows)
    return Page(resource, number, decoded[1], len(body), body, columns=decoded[0])


def comparable(frame: pd.DataFrame) -> list[list]:
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def assert_same_outcome(resource: str, pages: list[Page], rows: list):
    fast, slow = validate_pages(resource, pages), validate_rows(resource, rows)
    assert sorted(comparable(fast.valid)) == sorted(comparable(slow.valid))
    assert list(fast.valid.columns) == list(slow.valid.columns)
    assert fast.rejected.values.tolist() == slow.rejected.values.tolist()
    assert fast.latest_updated_at == slow.latest_updated_at


def test_a_clean_page_is_decoded_column_wise_with_the_row_paths_rows():
    rows = [event(), event(id="e2", duration_seconds=12.5, content_type=None, updated_at="2025-01-07T00:00:00.250+02:00"),
            event(id="e3", x_extra={"nested": [1, 2]})]
    clean = page("learning-events", rows, cursor="next")
    assert clean.columns is not None and clean.next_cursor == "next" and len(clean) == 3
    assert_same_outcome("learning-events", [clean], rows)
    assert str(validate_pages("learning-events", [clean]).valid["updated_at"].dt.tz) == "UTC"


@pytest.mark.parametrize("changes", [
    {"user_id": "<missing>"}, {"user_id": None}, {"event_type": "jumped"}, {"duration_seconds": "abc"},
    {"duration_seconds": True}, {"duration_seconds": -1}, {"progress_delta": 150}, {"occurred_at": "not-a-timestamp"},
    {"occurred_at": "2025-01-06"}, {"occurred_at": "2025-01-06T10:00:00"}, {"occurred_at": 1736157600},
    {"content_type": "podcast"}, {"user_id": "u\x001"}, {"course_id": "c" * 70_000}, {"duration_seconds": 1e16},
    {"occurred_at": "0001-01-01T00:00:00Z"}, {"updated_at": "9999-12-31T23:59:59Z"},
])
def test_a_page_with_an_invalid_row_gets_the_row_paths_reasons(changes):
    clean = [event(id="c1"), event(id="c2")]
    dirty = [event(id="d1"), event(id="d2", **changes)]
    pages = [page("learning-events", clean, "a"), page("learning-events", dirty, None, 2)]
    assert pages[0].columns is not None
    assert_same_outcome("learning-events", pages, clean + dirty)


def test_bodies_the_fast_path_cannot_vouch_for_are_left_to_the_row_path():
    assert decode_page("users", orjson.dumps({"data": [], "next_cursor": None})) is None  # nested fields
    assert decode_page("learning-events", orjson.dumps({"data": [event()]})) is None  # no next_cursor
    assert decode_page("learning-events", orjson.dumps({"data": [event(), "x"], "next_cursor": None})) is None
    assert decode_page("learning-events", orjson.dumps({"data": [event()], "next_cursor": None})[:-5]) is None
    assert decode_page("learning-events", orjson.dumps([{"data": [], "next_cursor": None}])) is None
    # a null cursor is trusted only where it can be seen (the end of the body); a string one anywhere
    assert decode_page("learning-events", orjson.dumps({"next_cursor": None, "data": [event()]})) is None
    decoded = decode_page("learning-events", orjson.dumps({"next_cursor": "c", "data": [event()]}))
    assert decoded is not None and decoded[0].num_rows == 1 and decoded[1] == "c"
    assert pd.Timestamp(TS) == validate_pages("learning-events", [page("learning-events", [event()])]).latest_updated_at
