"""A DataFrame as PostgreSQL's binary COPY format, column-wise (numpy and Arrow, no per-row Python).

PostgreSQL parses every value of a CSV COPY from text (timestamps and numerics are the costly
ones); in the binary format it reads them as they are stored. :func:`frame_to_pgcopy` encodes the
column types a raw table of the large endpoints has — ``text``, ``timestamp with time zone``,
``double precision``, ``numeric(p,s)`` with s <= 4 — and returns None for anything else (the
caller writes CSV then), so the binary path is only ever taken where it stores exactly what the
CSV path stores:

- text: the UTF-8 bytes (NULL for None).
- timestamptz: microseconds since 2000-01-01 UTC; a value with a sub-microsecond part (which the
  CSV path would round in PostgreSQL) sends the frame back to CSV.
- double precision: the IEEE bytes; NaN is NULL, as in the CSV path.
- numeric(p,s): the CSV path sends Arrow's shortest text of the float (``0.125``) and PostgreSQL
  rounds it half away from zero to s places. Here the same text is cast by Arrow to an exact
  decimal, rounded the same way, and sent as PostgreSQL's base-10000 digits (values below
  10^-(s+1) round to 0 either way and are sent as 0). PostgreSQL still checks the precision
  (an overflow fails the row as before).

Format (PostgreSQL docs, COPY "Binary Format"): a header, then per row an int16 field count and
per field an int32 length (-1: NULL) followed by the bytes, then an int16 -1; all big-endian.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in microseconds since 1970
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_NUMERIC_GROUPS = 4  # integer base-10000 digits sent: |value| < 10^16 (validation: <= 2^53)
_EXACT = pa.decimal128(38, 22)  # Arrow's exact decimal of a float's shortest text (<= 16 integer digits)

FIELD = pa.large_binary()  # one field of every row: its int32 length (-1: NULL) and its bytes


def _fixed(valid: np.ndarray, values: np.ndarray) -> pa.Array:
    """Fixed-width big-endian ``values`` (one per row; those of invalid rows are not sent)."""
    width = values.dtype.itemsize
    count = len(valid)
    rows = np.empty((count, 4 + width), dtype=np.uint8)
    rows[:, :4] = np.where(valid, width, -1).astype(">i4").view(np.uint8).reshape(-1, 4)
    rows[:, 4:] = np.ascontiguousarray(values).view(np.uint8).reshape(-1, width)
    keep = np.ones((count, 4 + width), dtype=bool)
    keep[~valid, 4:] = False
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.where(valid, 4 + width, 4), out=offsets[1:])
    return pa.Array.from_buffers(FIELD, count, [None, pa.py_buffer(offsets), pa.py_buffer(rows[keep])])


def _text(series: pd.Series) -> pa.Array | None:
    try:
        array = pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if isinstance(array, pa.ChunkedArray):  # a pandas column backed by Arrow
        array = pa.concat_arrays(array.chunks) if array.num_chunks else pa.array([], pa.string())
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False)
    prefixes = np.where(valid, lengths, -1).astype(">i4").view(np.uint8).reshape(-1, 4)
    prefix = pa.Array.from_buffers(FIELD, len(array), [
        None, pa.py_buffer(np.arange(0, 4 * len(array) + 1, 4, dtype=np.int64)), pa.py_buffer(prefixes.copy())])
    return pc.binary_join_element_wise(prefix, array.fill_null("").cast(FIELD), pa.scalar(b"", FIELD))


def _timestamptz(series: pd.Series) -> pa.Array | None:
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        return None
    per_us = {"us": 1, "ns": 1000}.get(series.dtype.unit)
    if per_us is None:
        return None
    ticks = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().view(np.int64)
    valid = series.notna().to_numpy()
    if per_us > 1:
        if (ticks[valid] % per_us).any():
            return None  # sub-microsecond parts: PostgreSQL rounds the CSV text; leave it to CSV
        ticks = ticks // per_us
    return _fixed(valid, (ticks - PG_EPOCH_US).astype(">i8"))


def _float8(series: pd.Series) -> pa.Array | None:
    if not pd.api.types.is_float_dtype(series.dtype):
        return None
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return _fixed(~np.isnan(values), values.astype(">f8"))


def _numeric(series: pd.Series, scale: int) -> pa.Array | None:
    if scale > 4 or not pd.api.types.is_float_dtype(series.dtype):
        return None
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    valid = ~np.isnan(values)
    if np.isinf(values).any() or (np.abs(values[valid]) >= 1e16).any():
        return None
    values = np.where(valid & (np.abs(values) >= 10.0 ** -(scale + 1)), values, 0.0)  # the rest rounds to 0
    try:  # the CSV path's text, exactly as a decimal, rounded as PostgreSQL rounds it
        exact = pc.cast(pc.cast(pa.array(values), pa.string()), _EXACT)
        rounded = pc.cast(pc.round(exact, ndigits=scale, round_mode="half_towards_infinity"), pa.decimal128(38, scale))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # the unscaled values (|v| < 10^18) are the low 64 bits of Arrow's 128-bit decimals
    unscaled = np.frombuffer(rounded.buffers()[1], dtype="<i8", count=2 * len(rounded))[::2]
    magnitude = np.abs(unscaled)
    whole, fraction = magnitude // 10**scale, (magnitude % 10**scale) * 10 ** (4 - scale)
    groups = [(whole // 10_000**g) % 10_000 for g in range(_NUMERIC_GROUPS - 1, -1, -1)] + [fraction]
    words = np.empty((len(unscaled), 4 + len(groups)), dtype=">i2")
    words[:, 0] = len(groups)                    # ndigits
    words[:, 1] = _NUMERIC_GROUPS - 1            # weight of the first digit (base 10000)
    words[:, 2] = np.where(unscaled < 0, 0x4000, 0)  # sign
    words[:, 3] = scale                          # dscale
    for i, group in enumerate(groups):
        words[:, 4 + i] = group
    return _fixed(valid, words.view(f"V{words.shape[1] * 2}").reshape(-1))


def _column(series: pd.Series, pg_type: str | None) -> pa.Array | None:
    if pg_type == "text":
        return _text(series)
    if pg_type == "timestamp with time zone":
        return _timestamptz(series)
    if pg_type == "double precision":
        return _float8(series)
    numeric = _NUMERIC.fullmatch(pg_type or "")
    return _numeric(series, int(numeric[2])) if numeric else None


def frame_to_pgcopy(frame: pd.DataFrame, types: Mapping[str, str]) -> bytes | None:
    """``frame`` in PostgreSQL's binary COPY format, given each column's type (``format_type``),
    or None when a column's type or values are not covered (then write CSV)."""
    count = np.array([len(frame.columns)], dtype=">i2").tobytes()
    fields = [pa.array([count] * len(frame), FIELD)]
    for name in frame.columns:
        encoded = _column(frame[name], types.get(name))
        if encoded is None:
            return None
        fields.append(encoded)
    rows = pc.binary_join_element_wise(*fields, pa.scalar(b"", FIELD))  # Arrow interleaves the columns
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + len(rows) + 1]
    body = memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]]
    return b"".join((HEADER, body, TRAILER))
