"""The fast path: a page decoded column-wise by Arrow's JSON reader and checked with Arrow compute.

For resources whose contract fields are all scalars (str, enum, ts, num) and that have no
"required but nullable" field (Arrow cannot tell a missing key from a null), :func:`decode_page`
parses a page body straight into typed columns with an explicit schema (unknown fields ignored).
It gives up — returns None — when the body is not exactly one page object whose rows are all
objects with every field of its contract JSON type, or when ``next_cursor`` is absent; the
client then parses the body with orjson as before (and retries on bad JSON).

:func:`check_columns` accepts a decoded page only when *every* row is valid: required fields
non-null, enums in their set, numbers in range (no NaN), timestamps strict RFC 3339 that Arrow
parses, and everything storable (``contract`` module docstring): no text longer than
``MAX_TEXT_CHARS``, timestamps inside ``TIMESTAMP_RANGE``, numbers within 2^53. A body holding
the escape ``\\u0000`` (a NUL) is left to the row path by :func:`decode_page`, and a lone surrogate
never gets here either (Arrow refuses the body). Anything else sends the page down the row path (:func:`contract.validate_rows` on the
orjson-parsed rows), which finds each row's reason for the quarantine. The fast path therefore
only ever accepts pages the row path would accept whole, and both give the same typed rows.
"""
from __future__ import annotations

import functools
import io
import re
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from analytics_pipeline.sources.contract import (
    CONTRACT,
    MAX_MAGNITUDE,
    MAX_TEXT_CHARS,
    TIMESTAMP_RANGE,
    Field,
    Validated,
    validate_rows,
)

JSON_TYPES = {"str": pa.string(), "enum": pa.string(), "ts": pa.string(), "num": pa.float64()}
TIMESTAMP = pa.timestamp("us", tz="UTC")
# RFC 3339 date-time (a space or T, an offset or Z): a strict subset of what the row path accepts.
RFC3339 = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_NULL_CURSOR_AT_END = re.compile(rb'"next_cursor"\s*:\s*null\s*}\s*$')


@functools.cache
def page_schema(resource: str) -> pa.Schema | None:
    """The explicit Arrow schema of a page of ``resource``, or None when the fast path does not apply."""
    fields = CONTRACT.get(resource)
    if not fields or any(f.kind not in JSON_TYPES or (f.required and f.nullable) for f in fields):
        return None
    row = pa.struct([(f.name, JSON_TYPES[f.kind]) for f in fields])
    return pa.schema([("data", pa.list_(row)), ("next_cursor", pa.string())])


def decode_page(resource: str, body: bytes) -> tuple[pa.Table, str | None] | None:
    """(rows as columns, next_cursor), or None when the body needs the row path."""
    schema = page_schema(resource)
    if schema is None or not body or b"\\u0000" in body:  # a NUL (or its look-alike): the row path decides
        return None
    try:
        table = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(body) + 1),
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != 1:
        return None
    data, cursor = table.column("data")[0], table.column("next_cursor")[0].as_py()
    if not data.is_valid or (cursor is None and not _NULL_CURSOR_AT_END.search(body[-512:])):
        return None
    rows = pa.Table.from_struct_array(data.values)
    if any(pc.any(pc.is_nan(rows.column(f.name))).as_py() for f in CONTRACT[resource] if f.kind == "num"):
        return None  # NaN is not JSON: the row path rejects the body
    return rows, cursor


def _count(mask: pa.ChunkedArray) -> int:
    return pc.sum(mask).as_py() or 0


def _checked(spec: Field, column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column typed for the database when every value satisfies ``spec``, else None."""
    present = len(column) - column.null_count
    if column.null_count and not spec.nullable:
        return None
    if spec.kind == "enum" and _count(pc.is_in(column, value_set=pa.array(spec.values, pa.string()))) != present:
        return None
    if spec.kind == "num" and present:
        low, high = pc.min_max(column).values()
        if (spec.minimum is not None and low.as_py() < spec.minimum) or (spec.maximum is not None and high.as_py() > spec.maximum):
            return None
        if max(abs(low.as_py()), abs(high.as_py())) > MAX_MAGNITUDE:
            return None
    if spec.kind == "str" and present and not _short_text(column):  # enums and RFC 3339 text are short
        return None
    if spec.kind == "ts":
        if _count(pc.match_substring_regex(column, RFC3339)) != present:
            return None
        try:
            stamps = column.cast(TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        low, high = (v.as_py() for v in pc.min_max(stamps).values())
        return stamps if not present or (TIMESTAMP_RANGE[0] <= low and high < TIMESTAMP_RANGE[1]) else None
    return column


def _short_text(column: pa.ChunkedArray) -> bool:
    """No text longer than ``MAX_TEXT_CHARS`` in ``column`` (NUL never gets here: ``decode_page``)."""
    if pc.max(pc.binary_length(column)).as_py() <= MAX_TEXT_CHARS:  # bytes >= characters
        return True
    return pc.max(pc.utf8_length(column)).as_py() <= MAX_TEXT_CHARS


def check_columns(resource: str, rows: pa.Table) -> pa.Table | None:
    """The decoded rows with timestamps parsed when all of them are valid, else None."""
    columns = {}
    for spec in CONTRACT[resource]:
        column = _checked(spec, rows.column(spec.name))
        if column is None:
            return None
        columns[spec.name] = column
    return pa.table(columns)


def validate_pages(resource: str, pages: Sequence) -> Validated:
    """Validate a batch of pages (``client.Page``): checked column-wise where possible, else row-wise."""
    checked, rows = [], []
    for page in pages:
        table = check_columns(resource, page.columns) if page.columns is not None else None
        if table is None:
            rows.extend(page.rows)
        else:
            checked.append(table)
    if not checked:
        return validate_rows(resource, rows)
    fast = pa.concat_tables(checked)
    latest = pc.max(fast.column("updated_at")).as_py()
    valid = fast.to_pandas()
    if not rows:
        return Validated(valid, pd.DataFrame({"source_id": [], "reason": [], "payload": []}), pd.Timestamp(latest))
    slow = validate_rows(resource, rows)
    stamps = [pd.Timestamp(latest), slow.latest_updated_at]
    return Validated(pd.concat([valid, slow.valid], ignore_index=True), slow.rejected,
                     max(s for s in stamps if s is not None))
