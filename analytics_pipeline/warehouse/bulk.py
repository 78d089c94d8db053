"""Set-based reads and bulk writes: COPY in, snapshots replaced in one transaction.

``copy_frame`` serialises a DataFrame to CSV with Arrow's C++ writer (pandas' ``to_csv`` is
several times slower) and streams it through ``COPY ... FROM STDIN``. JSON columns (Python
dicts/lists) are serialised with orjson, Python lists of strings for ``text[]`` columns as
array literals.
"""
from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.settings import SQL_DIR

QUERIES_DIR = SQL_DIR / "queries"


def sql_text(relative_path: str) -> str:
    """The text of ``sql/queries/<relative_path>``."""
    return (QUERIES_DIR / relative_path).read_text()


def _json_or_none(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _pg_array_or_none(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    items = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
    return "{" + ",".join(items) + "}"


def _serialisable(frame: pd.DataFrame, json_columns: Sequence[str], array_columns: Sequence[str]) -> pa.Table:
    data = {}
    for column in frame.columns:
        series = frame[column]
        if column in json_columns:
            data[column] = pa.array([_json_or_none(v) for v in series.tolist()], type=pa.string())
        elif column in array_columns:
            data[column] = pa.array([_pg_array_or_none(v) for v in series.tolist()], type=pa.string())
        else:
            data[column] = pa.Array.from_pandas(series)
    return pa.table(data)


def frame_to_csv(frame: pd.DataFrame, json_columns: Sequence[str] = (), array_columns: Sequence[str] = ()) -> bytes:
    """CSV bytes (no header) in PostgreSQL's CSV dialect: unquoted empty = NULL."""
    table = _serialisable(frame, json_columns, array_columns)
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def copy_frame(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    json_columns: Sequence[str] = (),
    array_columns: Sequence[str] = (),
) -> int:
    """COPY ``frame`` (its columns are the target columns) into ``table``; return the row count."""
    if frame.empty:
        return 0
    payload = frame_to_csv(frame, json_columns, array_columns)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(payload)
    return len(frame)


def read_frame(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame."""
    return pd.read_sql_query(sa.text(sql), conn, params=params or {})


class SnapshotWriter:
    """Writes one as-of snapshot of a table: the rows of ``calculated_at`` are replaced atomically."""

    def __init__(self, conn: Connection, table: str, calculated_at: pd.Timestamp, json_columns: Sequence[str] = ()):
        self.conn, self.table, self.calculated_at, self.json_columns = conn, table, calculated_at, json_columns
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> int:
        written = copy_frame(self.conn, self.table, frame, json_columns=self.json_columns)
        self.rows += written
        return written


@contextmanager
def replace_snapshot(
    engine: Engine, table: str, calculated_at: pd.Timestamp, json_columns: Sequence[str] = ()
) -> Iterator[SnapshotWriter]:
    """One transaction: make sure the month's partition exists, delete the snapshot, COPY the new one.

    Readers see the old snapshot until commit, then the new one: never half of it. A failure
    anywhere rolls the whole snapshot back.
    """
    with engine.begin() as conn:
        conn.execute(
            sa.text("select ensure_monthly_partitions(:table, :at, :at)"),
            {"table": table, "at": calculated_at.to_pydatetime()},
        )
        conn.execute(sa.text(f"delete from {table} where calculated_at = :at"), {"at": calculated_at.to_pydatetime()})
        writer = SnapshotWriter(conn, table, calculated_at, json_columns)
        yield writer
