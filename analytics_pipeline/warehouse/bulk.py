"""Set-based reads and bulk writes: COPY in, snapshots replaced in one transaction.

``copy_frame`` serialises a DataFrame to CSV with Arrow's C++ writer (pandas' ``to_csv`` is
several times slower) and streams it through ``COPY ... FROM STDIN``. JSON columns (Python
dicts/lists) are serialised with orjson, Python lists of strings for ``text[]`` columns as
array literals.

Rows a table cannot hold never fail a whole write (one mechanism for the loader and every
computed snapshot): :func:`storable_split` removes, column-wise, the values the target's column
types cannot hold (a ``numeric(p,s)`` overflow, an integer out of range, an infinity), and
:func:`write_isolating` writes in a savepoint and, when PostgreSQL still rejects the write for a
row's sake, bisects it down to the rows it refuses. Both hand those rows, with the reason, to
:func:`quarantine_rows` (table ``quarantine``: resource, source_id, reason, payload, run_id).

``read_copy`` reads a query's rows through ``COPY (query) TO STDOUT`` (CSV) and Arrow's CSV
reader with the column types of the query's result description: several times faster than
``read_frame`` (``pd.read_sql_query`` builds a Python tuple per row) for large chunked reads.
``ArrowReader`` / ``read_arrow`` read the same columns through ADBC's binary COPY on a second
connection that imports the caller's snapshot (committed tables only: not the caller's temporary
tables nor its own uncommitted writes).
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import TypeVar

import adbc_driver_postgresql.dbapi as adbc_postgresql
import numpy as np

import orjson
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.settings import SQL_DIR
from analytics_pipeline.warehouse.urls import libpq_url

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
            array = pa.Array.from_pandas(series)
            if isinstance(array, pa.ChunkedArray) and array.num_chunks > 1:
                # a zero-length chunk (pandas 3's Arrow strings keep one per frame concatenated,
                # an empty frame's broadcast string included) made pyarrow's CSV writer emit NUL
                # bytes for the whole column, which COPY refuses: only the chunks with rows
                array = pa.chunked_array([c for c in array.chunks if len(c)], type=array.type)
            if pa.types.is_timestamp(array.type) and array.type.tz is not None:
                array = _utc_text(array)
            data[column] = array
    return pa.table(data)


def _utc_text(array: pa.Array) -> pa.Array:
    """A tz-aware timestamp column as text with an explicit ``+00`` offset.

    Arrow's CSV writer formats zoned timestamps ~25x slower than naive ones (a time-zone lookup
    per value); the values are stored in UTC, so the naive text plus ``+00`` is the same instant.
    """
    naive = array.cast(pa.timestamp(array.type.unit))
    return pc.binary_join_element_wise(naive.cast(pa.string()), pa.scalar("+00"), "")


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
    copy_csv(conn, table, list(frame.columns), frame_to_csv(frame, json_columns, array_columns))
    return len(frame)


def copy_csv(conn: Connection, table: str, columns: Sequence[str], payload: bytes) -> None:
    """COPY CSV bytes (``frame_to_csv``'s, in the order of ``columns``) into ``table``."""
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(payload)


def column_types(conn: Connection, table: str) -> dict[str, str]:
    """Column -> type (``format_type``, e.g. ``numeric(5,2)``) of ``table`` (temp tables too)."""
    return dict(conn.execute(sa.text(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = to_regclass(:t) and attnum > 0 and not attisdropped"), {"t": table}).all())


# ═══════════════ rows a table cannot hold: quarantined, the rest written ═══════════════

MAX_SOURCE_ID_CHARS = 200  # the quarantine's (resource, source_id) index cannot hold a 1 MB id
MAX_REASON_CHARS = 1000
_SURROGATES = re.compile("[\ud800-\udfff]")


def _quarantinable(texts: pd.Series, limit: int) -> pd.Series:
    """Texts the quarantine can always hold: NUL and lone surrogates written as escapes, cut at ``limit``."""
    texts = texts.astype(object)
    texts = texts.str.replace("\x00", "\\u0000", regex=False)
    texts = texts.str.replace(_SURROGATES, lambda m: f"\\u{ord(m.group()):04x}", regex=True)
    return texts.str.slice(0, limit)


def quarantine_rows(conn: Connection, resource: str, rows: pd.DataFrame, run_id: str | None) -> int:
    """COPY rows (source_id, reason, payload) into ``quarantine``; return how many."""
    if rows.empty:
        return 0
    frame = pd.DataFrame({
        "resource": resource,
        "source_id": _quarantinable(rows["source_id"], MAX_SOURCE_ID_CHARS).to_numpy(),
        "reason": _quarantinable(rows["reason"], MAX_REASON_CHARS).to_numpy(),
        "payload": rows["payload"].astype(object).to_numpy(),
        "run_id": run_id,
    })
    return copy_frame(conn, "quarantine", frame)


def payloads(frame: pd.DataFrame) -> list[str]:
    """JSON text of each row (the quarantine's payload)."""
    if frame.empty:
        return []
    return frame.to_json(orient="records", lines=True, date_format="iso", date_unit="s").splitlines()


def flagged(rows: pd.DataFrame, reasons, key: str) -> pd.DataFrame:
    """Quarantine rows (source_id = column ``key`` when present, reason, payload) for ``rows``."""
    source_ids = rows[key].astype(object).to_numpy() if key in rows.columns else [None] * len(rows)
    return pd.DataFrame({"source_id": source_ids, "reason": reasons, "payload": payloads(rows)}, dtype=object)


# SQLSTATE classes one row can cause: data exception, integrity constraint violation, program limit
# exceeded (e.g. an index row too large). Anything else (connection, serialisation...) is raised.
ROW_ERROR_CLASSES = ("22", "23", "54")


def row_error(exc: BaseException) -> str | None:
    """The database's reason when ``exc`` is an error a single row can cause, else None."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, psycopg.Error) or not orig.sqlstate or orig.sqlstate[:2] not in ROW_ERROR_CLASSES:
        return None
    message = orig.diag.message_primary or str(orig).splitlines()[0]
    column = f" (column {orig.diag.column_name})" if orig.diag.column_name else ""
    return f"rejected by PostgreSQL [{orig.sqlstate}]: {message}{column}"


# ═══════════════ learners erased while their rows are written ═══════════════
#
# An erasure locks its learners' users rows FOR UPDATE, then deletes them and every row naming
# them (governance/lock_erasure_subjects.sql). A write that starts meanwhile computed the learner's
# rows from a snapshot that still held the learner; its foreign-key check waits for the lock and,
# once the erasure commits, fails (SQLSTATE 23503). The learner is gone: such rows are dropped and
# counted (``dropped_erased``), never quarantined (their payload would keep the erased learner).

FOREIGN_KEY_VIOLATION = "23503"
#: how many times a set-based statement runs again because learners were erased while it ran
ERASED_LEARNER_RETRIES = 3

_T = TypeVar("_T")


def references_users(conn: Connection, exc: BaseException) -> bool:
    """True when ``exc`` is a foreign-key violation of a reference to ``users`` (one query, only on
    this failure path; the transaction must be usable again: after its savepoint rolled back)."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, psycopg.Error) or orig.sqlstate != FOREIGN_KEY_VIOLATION or not orig.diag.constraint_name:
        return False
    return bool(conn.execute(sa.text(sql_text("warehouse/references_users.sql")),
                             {"name": orig.diag.constraint_name}).scalar_one())


def gone_learners(conn: Connection, user_ids: pd.Series) -> list[str]:
    """The distinct ids of ``user_ids`` erased: no users row and an erasure tombstone (in the statement's
    snapshot). An id that never named a learner is not one (its row is a defect: quarantined)."""
    ids = user_ids.dropna().astype(str).unique().tolist()
    if not ids:
        return []
    return list(conn.execute(sa.text(sql_text("warehouse/gone_learners.sql")), {"ids": ids}).scalars())


def without_gone_learners(conn: Connection, frame: pd.DataFrame, key: str = "user_id") -> tuple[pd.DataFrame, int]:
    """(``frame`` minus the rows whose ``key`` names an erased learner, how many rows that took out):
    ``write_isolating``'s ``drop_gone`` after a write failed on the foreign key to users."""
    if key not in frame.columns:
        return frame, 0
    gone = frame[key].isin(gone_learners(conn, frame[key])).to_numpy()
    return frame[~gone], int(gone.sum())


def retrying_erased_learners(conn: Connection, statement: Callable[[], _T],
                             retries: int = ERASED_LEARNER_RETRIES) -> tuple[_T, int]:
    """``statement()`` (a set-based write) in a savepoint; when it fails on a foreign key to users
    (a learner erased while it ran), roll back to the savepoint and run it again, at most
    ``retries`` times. Returns (its result, how many runs failed so).

    The retry is right when the statement reads its learners from ``users`` (a join or
    ``exists``) or from rows the erasure deletes: under READ COMMITTED it takes a new snapshot,
    which no longer holds the erased learner (the failure means the erasure committed). A clean
    run costs one savepoint. Any other error is raised.
    """
    for failed in range(retries + 1):
        try:
            with conn.begin_nested():
                return statement(), failed
        except sa.exc.IntegrityError as exc:
            if failed == retries or not references_users(conn, exc):
                raise
    raise AssertionError("unreachable")


def write_isolating(conn: Connection, frame: pd.DataFrame, write: Callable[[pd.DataFrame], object],
                    reject: Callable[[pd.DataFrame, str], None],
                    drop_gone: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> list:
    """``write(frame)`` in a savepoint; when PostgreSQL rejects it for a row's sake (:func:`row_error`),
    roll back and bisect: each half again in its own savepoint, down to the single rows it refuses,
    which go to ``reject(row, reason)``. Returns the results of the writes that succeeded.

    A clean write costs one savepoint; k bad rows of n about k·log2(n) extra writes. Other errors
    are raised (the caller's transaction fails as before).

    ``drop_gone(frame)``: when the write failed on a foreign key to ``users`` (:func:`references_users`:
    a learner erased while the rows were written), ``frame`` minus the rows of erased learners
    (:func:`without_gone_learners`; counted by the caller, never rejected); those rows are dropped
    and the rest is written again, before any bisection.
    """
    try:
        with conn.begin_nested():
            return [write(frame)]
    except (psycopg.Error, sa.exc.DBAPIError) as exc:
        reason = row_error(exc)
        if reason is None:
            raise
        if drop_gone is not None and references_users(conn, exc):
            kept = drop_gone(frame)
            if len(kept) < len(frame):
                return write_isolating(conn, kept, write, reject, drop_gone)
        if len(frame) == 1:
            reject(frame, reason)
            return []
        half = len(frame) // 2
        return (write_isolating(conn, frame.iloc[:half], write, reject, drop_gone)
                + write_isolating(conn, frame.iloc[half:], write, reject, drop_gone))


_INTEGER_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")


def column_limits(conn: Connection, table: str) -> dict[str, tuple[str, float, int | None]]:
    """Numeric columns of ``table`` (temp tables too) with a bound: column -> (type, exclusive bound of
    |value|, scale)."""
    limits = {}
    for name, type_name in column_types(conn, table).items():
        numeric = _NUMERIC.fullmatch(type_name)
        if numeric:
            precision, scale = int(numeric[1]), int(numeric[2])
            limits[name] = (type_name, 10.0 ** (precision - scale), scale)
        elif type_name in _INTEGER_RANGES:
            limits[name] = (type_name, float(_INTEGER_RANGES[type_name]), 0)
    return limits


def storable_split(frame: pd.DataFrame, limits: Mapping[str, tuple[str, float, int | None]],
                   key: str = "user_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows every column can hold, quarantine rows of the others: source_id = ``key``, reason, payload).

    Column-wise: a value that rounds (to the column's scale) to ``bound`` or beyond, or an
    infinity, cannot be stored; the reason names the column, the value and the type.
    """
    reason = pd.Series(None, index=frame.index, dtype=object)
    for column in [c for c in frame.columns if c in limits]:
        type_name, bound, scale = limits[column]
        values = pd.to_numeric(frame[column], errors="coerce").astype(float).to_numpy()
        with np.errstate(invalid="ignore"):
            rounded = np.round(values, scale or 0)
            bad = np.isinf(values) | (rounded >= bound) | (rounded < -bound)
        if bad.any():
            text = f"{column}: " + frame[column].astype(str) + f" does not fit {type_name}"
            reason = reason.mask(reason.isna() & bad, text)
    bad_rows = reason.notna().to_numpy()
    if not bad_rows.any():
        return frame, pd.DataFrame({"source_id": [], "reason": [], "payload": []}, dtype=object)
    return frame[~bad_rows], flagged(frame[bad_rows], reason[bad_rows].to_numpy(), key)


def read_frame(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame."""
    return pd.read_sql_query(sa.text(sql), conn, params=params or {})


#: PostgreSQL type oid -> Arrow type of ``read_copy`` (other types: ``read_frame``).
_PG_ARROW = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int64(), 23: pa.int64(), 700: pa.float64(),
    701: pa.float64(), 1700: pa.float64(), 1082: pa.date32(), 25: pa.string(), 1042: pa.string(), 1043: pa.string(),
    1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC"),
}


def _inline(conn: Connection, sql: str, params: Mapping[str, object]) -> str:
    """The query ``sql`` (``:name`` parameters) with its parameters inlined as literals
    (COPY takes no bind parameters); psycopg quotes and escapes them."""
    compiled = sa.text(sql).compile(dialect=conn.dialect)
    raw = conn.connection.driver_connection
    return psycopg.ClientCursor(raw).mogrify(compiled.string, compiled.construct_params(params))


def _described(conn: Connection, sql: str, params: dict | None) -> tuple[str, list[tuple[str, pa.DataType]]] | None:
    """``sql`` with ``params`` inlined, and (name, Arrow type of the column contract) of each of its
    columns; None when a column's type is outside the contract (the caller reads it with
    :func:`read_frame`)."""
    query = _inline(conn, sql, params or {}).strip().rstrip(";")
    columns = _describe(conn, query)
    return None if any(t is None for _, t in columns) else (query, columns)


def _describe(conn: Connection, query: str) -> list[tuple[str, pa.DataType | None]]:
    """(name, Arrow type of the column contract or None) of each column of ``query`` (inlined)."""
    # through SQLAlchemy (its statement events and echo see the query; the read itself goes to
    # the driver, which SQLAlchemy cannot run); inlined: no parameters
    describe = conn.exec_driver_sql(f"select * from ({query}) q limit 0", execution_options={"no_parameters": True})
    columns = [(d.name, _PG_ARROW.get(d.type_code)) for d in describe.cursor.description]
    describe.close()
    return columns


def _no_rows(names: Sequence[str]) -> pd.DataFrame:
    """As ``read_frame`` of no rows: object columns."""
    return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})


def read_copy(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame, through ``COPY (query) TO STDOUT``.

    Column types come from the query's description: text -> ``str``, float8/float4 ->
    ``float64``, numeric -> ``float64``, integers -> ``int64`` (``float64`` with nulls, as ``read_frame``),
    timestamptz -> ``datetime64[us, UTC]`` (also when all null), boolean -> ``bool``; no rows:
    object columns (as ``read_frame``). A query with any other column type is read with
    :func:`read_frame`. NULL -> NaN/NaT/None, an empty string stays an empty string.
    """
    described = _described(conn, sql, params)
    if described is None:
        return read_frame(conn, sql, params)
    return _copy_rows(conn, *described)


def _copy_rows(conn: Connection, query: str, columns: list[tuple[str, pa.DataType]]) -> pd.DataFrame:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        sink = io.BytesIO()
        with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                sink.write(block)
    names = [n for n, _ in columns]
    if sink.tell() == 0:
        return _no_rows(names)
    sink.seek(0)
    table = pa_csv.read_csv(
        sink, read_options=pa_csv.ReadOptions(column_names=names, block_size=1 << 24),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict(columns), strings_can_be_null=True,
            quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"]))
    return table.to_pandas()


class ArrowReader:
    """Reads queries of committed tables through ADBC (``adbc-driver-postgresql``: ``COPY ... TO
    STDOUT (FORMAT binary)`` decoded into Arrow in C++; psycopg's COPY yields one Python iteration
    per row), with :func:`read_copy`'s column contract, on its own connection to ``conn``'s
    database (opened at the first read, closed by :meth:`close` or the ``with`` block).

    Each read sees what a read on ``conn`` would: it imports ``conn``'s snapshot
    (``pg_export_snapshot()`` on ``conn``, ``SET TRANSACTION SNAPSHOT`` in a ``REPEATABLE READ READ
    ONLY`` transaction): under READ COMMITTED the snapshot of that moment, under REPEATABLE READ
    the transaction's. Limits: it cannot see ``conn``'s temporary tables nor what ``conn``'s
    transaction wrote itself (uncommitted: another session's snapshot never shows it), so only
    queries that read neither may use it. A query with a column type outside the contract is
    read by :func:`read_frame`, as by :func:`read_copy`; inside a savepoint (no snapshot can be
    exported from a subtransaction) the query goes through :func:`read_copy`'s COPY. On an
    autocommit ``conn`` (no transaction to share) each read sees the latest committed rows.
    """

    def __init__(self, conn: Connection):
        self.conn = conn
        self._adbc = None

    def __enter__(self) -> ArrowReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc, adbc = None, self._adbc
            adbc.close()

    def _connection(self):
        # not autocommit: the driver opens each transaction with a simple-protocol BEGIN (and a new
        # one right after each rollback), so every statement of a read runs inside a transaction.
        # In autocommit our own BEGIN went through the extended protocol (an unnamed prepared
        # statement, then its description in a second round trip): behind a transaction-mode
        # PgBouncer the description could reach another server connection ("unnamed prepared
        # statement does not exist", seen in the nightly through the pooler under load).
        # Between reads the open transaction has run nothing: it holds no snapshot.
        if self._adbc is None:
            self._adbc = adbc_postgresql.connect(libpq_url(self.conn.engine.url), autocommit=False)
        return self._adbc

    def __call__(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        conn = self.conn
        described = _described(conn, sql, params)
        if described is None:
            return read_frame(conn, sql, params)
        query, columns = described
        if conn.in_nested_transaction():
            return _copy_rows(conn, query, columns)
        autocommit = conn.connection.driver_connection.autocommit
        snapshot = None if autocommit else conn.execute(sa.text("select pg_export_snapshot()")).scalar_one()
        adbc = self._connection()
        cursor = adbc.cursor()
        try:
            cursor.execute("set transaction isolation level repeatable read, read only")
            if snapshot is not None:
                cursor.execute(f"set transaction snapshot '{snapshot}'")
            cursor.execute(query)
            table = cursor.fetch_arrow_table()
            adbc.rollback()
        except BaseException:
            cursor.close()
            self.close()  # a fresh connection for the next read, never one left in a failed transaction
            raise
        cursor.close()
        if table.num_rows == 0:
            return _no_rows([n for n, _ in columns])
        return pa.Table.from_arrays([_contract(c, t) for c, (_, t) in zip(table.columns, columns)],
                                    names=[n for n, _ in columns]).to_pandas()


def _contract(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """An ADBC column as the Arrow type of :func:`read_copy`'s contract, with the values its CSV
    path gives: numeric (text, ADBC's opaque type) parsed as float64, float4 through its shortest
    text (as PostgreSQL writes it in CSV), integers widened."""
    if isinstance(column.type, pa.ExtensionType):
        column = pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
    if pa.types.is_float32(column.type):
        column = column.cast(pa.string())
    return column.cast(target)


def read_arrow(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """One read through :class:`ArrowReader` (its own ADBC connection, opened and closed for it)."""
    with ArrowReader(conn) as read:
        return read(sql, params)


class SnapshotWriter:
    """Writes one as-of snapshot of a table: the rows of ``calculated_at`` (within ``scope``) are replaced atomically.

    A learner row the table cannot hold (a ``numeric(5,2)`` overflow...) is quarantined with the
    reason (resource = the table, source_id = the learner) instead of failing the snapshot for
    everybody: :meth:`storable` before the quality gate, and :func:`write_isolating` around the
    COPY. ``quarantined`` counts them.

    A row whose learner is gone when it is written (erased, or deleted from the LMS, while the
    snapshot was computed: the write failed on the foreign key to users) is dropped, not
    quarantined; ``dropped_erased`` counts them. The other rows are written.
    """

    def __init__(self, conn: Connection, table: str, calculated_at: pd.Timestamp, json_columns: Sequence[str] = (),
                 scope: Mapping[str, object] | None = None, run_id: str | None = None):
        self.conn, self.table, self.calculated_at, self.json_columns = conn, table, calculated_at, json_columns
        self.scope = dict(scope or {})
        self.run_id = run_id
        self.rows = 0
        self.quarantined = 0
        self.dropped_erased = 0
        self.limits = column_limits(conn, table)

    def _scope_sql(self) -> tuple[str, dict]:
        clauses = [f'"{column}" = :scope_{i}' for i, column in enumerate(self.scope)]
        params = {f"scope_{i}": value for i, value in enumerate(self.scope.values())}
        return (" and ".join(clauses) or "true"), params

    def delete_snapshot(self) -> int:
        where, params = self._scope_sql()
        return self.conn.execute(
            sa.text(f"delete from {self.table} where calculated_at = :at and {where}"),
            {"at": self.calculated_at.to_pydatetime(), **params},
        ).rowcount

    def delete_users(self, user_ids: Iterable[str]) -> int:
        """Delete every row of these learners within ``scope``, whatever its ``calculated_at``
        (older snapshots of a learner's one-live-row table, opted-out learners)."""
        ids = [str(u) for u in user_ids]
        if not ids:
            return 0
        where, params = self._scope_sql()
        return self.conn.execute(
            sa.text(f"delete from {self.table} where user_id = any(:ids) and {where}"), {"ids": ids, **params}
        ).rowcount

    def _quarantine(self, rows: pd.DataFrame) -> None:
        self.quarantined += quarantine_rows(self.conn, self.table, rows, self.run_id)

    def _without_gone(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` minus the rows of learners no longer in users (counted in ``dropped_erased``)."""
        kept, dropped = without_gone_learners(self.conn, frame)
        self.dropped_erased += dropped
        return kept

    def storable(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` minus the rows a column cannot hold (those are quarantined with the reason)."""
        frame, rejected = storable_split(frame, self.limits)
        self._quarantine(rejected)
        return frame

    def write(self, frame: pd.DataFrame) -> int:
        def copy(part: pd.DataFrame) -> int:
            return copy_frame(self.conn, self.table, part, json_columns=self.json_columns)

        def reject(row: pd.DataFrame, reason: str) -> None:
            self._quarantine(flagged(row, [reason] * len(row), "user_id"))

        written = sum(write_isolating(self.conn, self.storable(frame), copy, reject, self._without_gone))
        self.rows += written
        return written


@contextmanager
def replace_snapshot(
    engine: Engine, table: str, calculated_at: pd.Timestamp, json_columns: Sequence[str] = (),
    scope: Mapping[str, object] | None = None, delete_existing: bool = True, run_id: str | None = None,
) -> Iterator[SnapshotWriter]:
    """One transaction: make sure the month's partition exists, delete the snapshot, COPY the new one.

    ``scope`` (column -> value, e.g. ``{"analytics_type": "forecast"}``) limits every delete to
    the rows of one slice of a table several writers share. ``writer.delete_users(ids)``
    deletes those learners' rows of the slice in the same transaction.

    ``delete_existing=False`` keeps the rows of ``calculated_at`` that the writer does not
    delete itself (a cache whose unchanged rows are reused).

    Readers see the old snapshot until commit, then the new one: never half of it. A failure
    anywhere rolls the whole snapshot back.
    """
    with engine.begin() as conn:
        conn.execute(
            sa.text("select ensure_monthly_partitions(:table, :at, :at)"),
            {"table": table, "at": calculated_at.to_pydatetime()},
        )
        writer = SnapshotWriter(conn, table, calculated_at, json_columns, scope, run_id)
        if delete_existing:
            writer.delete_snapshot()
        yield writer


# ═══════════════ a first load into an empty table: secondary indexes built once, at the end ═══════════════

#: An index key of at most this many bytes always fits a btree page (PostgreSQL's limit is ~2,700
#: bytes per index row); a batch with a longer key is written with the indexes in place, so that
#: PostgreSQL judges (and the bisection quarantines) exactly the rows it would otherwise refuse.
SAFE_INDEX_KEY_BYTES = 2000
_FIXED_KEY_BYTES = 16  # a non-text key column (timestamp, number): at most this in an index row


@contextmanager
def local_settings(conn: Connection, settings: dict[str, str]) -> Iterator[None]:
    """``settings`` for the statements of the block only (``set_config(..., is_local)``), then
    each back to its value before (the rest of the transaction keeps its own; an error aborts
    the transaction, which drops them anyway)."""
    before = {name: conn.execute(sa.text("select current_setting(:name)"), {"name": name}).scalar_one()
              for name in settings}
    set_config = sa.text("select set_config(:name, :value, true)")
    for name, value in settings.items():
        conn.execute(set_config, {"name": name, "value": value})
    yield
    for name, value in before.items():
        conn.execute(set_config, {"name": name, "value": value})


class DeferredIndexes:
    """The plain secondary indexes of a table being loaded from empty, dropped for the load and
    rebuilt (one sort each) by :meth:`restore` before the transaction commits.

    Maintaining a btree row by row costs a random page access per row once the index outgrows
    the cache (learning_events' ``(user_id, occurred_at)``); building it from the loaded rows is
    a sort. Only indexes no constraint or uniqueness depends on are deferred (the primary key stays:
    it finds conflicting keys), only plain btree column indexes (their build can fail for no row
    but an oversized key, which :meth:`admits` rules out), and only when the table is empty under an
    ``ACCESS EXCLUSIVE`` lock taken without waiting. Readers of the table wait for the load's
    commit instead of seeing it empty. Everything is transactional: a failed load rolls the drop back.
    """

    def __init__(self, conn: Connection, table: str, indexes: list):
        self.conn, self.table, self.indexes = conn, table, indexes

    @classmethod
    def begin(cls, conn: Connection, table: str) -> DeferredIndexes | None:
        """Drop ``table``'s deferrable indexes when it is empty and can be locked at once, else None."""
        empty = f"select not exists (select 1 from {table})"
        if not conn.execute(sa.text(empty)).scalar_one():
            return None
        indexes = conn.execute(sa.text(sql_text("warehouse/deferrable_indexes.sql")), {"table": table}).all()
        if not indexes:
            return None
        savepoint = conn.begin_nested()
        try:
            conn.execute(sa.text(f"lock table {table} in access exclusive mode nowait"))
        except sa.exc.OperationalError:  # someone reads or writes it: keep its indexes
            savepoint.rollback()
            return None
        if not conn.execute(sa.text(empty)).scalar_one():  # filled meanwhile: release the lock
            savepoint.rollback()
            return None
        for index in indexes:
            conn.execute(sa.text(f"drop index {index.name}"))
        savepoint.commit()
        return cls(conn, table, indexes)

    def admits(self, frame: pd.DataFrame) -> bool:
        """True when every row's key of every deferred index fits a btree (``SAFE_INDEX_KEY_BYTES``)."""
        for index in self.indexes:
            size = np.zeros(len(frame))
            for column in index.columns:
                values = frame[column] if column in frame.columns else None
                if values is not None and (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
                    lengths = pc.binary_length(pa.array(values.astype(object), type=pa.string(), from_pandas=True))
                    size += lengths.to_numpy(zero_copy_only=False).astype(float)
                else:
                    size += _FIXED_KEY_BYTES
            if (np.nan_to_num(size) > SAFE_INDEX_KEY_BYTES).any():
                return False
        return True

    def restore(self) -> None:
        """Build the dropped indexes again (same names and definitions)."""
        for index in self.indexes:
            self.conn.exec_driver_sql(index.definition)
        self.indexes = []


def superuser(conn: Connection) -> bool:
    return conn.execute(sa.text("select current_setting('is_superuser')")).scalar_one() == "on"


def check_foreign_keys(conn: Connection, table: str) -> None:
    """Count ``table``'s rows naming no parent, key by key, with one anti-join each
    (``deferrable_foreign_keys.sql``); raise :class:`OrphanRowsError` on any."""
    for key in conn.execute(sa.text(sql_text("warehouse/deferrable_foreign_keys.sql")), {"table": table}).all():
        orphans = conn.execute(sa.text(key.orphans_sql)).scalar_one()
        if orphans:
            raise OrphanRowsError(f"{orphans} row(s) of {table} violate foreign key constraint "
                                  f"{key.name} ({key.definition}): the build is rolled back")


class OrphanRowsError(RuntimeError):
    """Rows of a first build name no parent (:func:`indexes_built_after` with ``foreign_keys``)."""


#: a first build's body with its foreign keys' row triggers skipped (``indexes_built_after``)
SKIP_ROW_TRIGGERS = {"session_replication_role": "replica"}


@contextmanager
def indexes_built_after(conn: Connection, table: str, foreign_keys: bool = False,
                        unique_keys: bool = False) -> Iterator[bool]:
    """Around a bulk insert into ``table``: when it is empty and free (:meth:`DeferredIndexes.begin`),
    its plain secondary indexes are dropped and built again after the body, in the same
    transaction. Yields whether they were.

    With ``unique_keys`` (a body whose rows are distinct by construction and that, when this
    yields true, leaves out its ``ON CONFLICT`` clause: :func:`without_arbiter`), the primary key
    and unique constraints go too (:func:`indexes_rebuilt_after`) and are created again after the
    rows: one sort each instead of a btree descent and a speculative insertion per row (at M the
    ledger's 1.08M rows: 13.0 s with them, 8.8 s inserted without and built after). The table is
    empty and locked, so a conflict could only be between the body's own rows; one that got in
    anyway fails the constraint's creation and the transaction rolls back, as its insert would have.

    With ``foreign_keys`` (a body that only inserts), the keys are checked once after the body
    instead of by a trigger query per inserted row (at L the ledger's first build inserts 4.5M rows;
    on this machine 2M rows took 20.1 s with the key's checks, 5.8 s without): the body runs with
    ``session_replication_role = replica`` for this block only (:func:`local_settings`: no catalog
    change, no lock on the referenced tables, other sessions untouched), which skips its statements'
    row triggers (the first builds' tables have only update/delete triggers besides the keys'), then
    :func:`check_foreign_keys`. A row without its parent raises :class:`OrphanRowsError` and the
    transaction rolls back, as the row's insert would have failed. No parent can disappear meanwhile:
    deleting one runs its key's check on this table, which waits for the table's lock until the build
    commits. Needs a superuser (the GUC is superuser-only): for any other role the keys are checked
    row by row as before."""
    deferred = DeferredIndexes.begin(conn, table)
    checked_after = deferred is not None and foreign_keys and superuser(conn)
    keys = indexes_rebuilt_after(conn, [table]) if deferred is not None and unique_keys else nullcontext()
    with keys, local_settings(conn, SKIP_ROW_TRIGGERS if checked_after else {}):
        yield deferred is not None
    if checked_after:
        check_foreign_keys(conn, table)
    if deferred is not None:
        deferred.restore()


#: an INSERT's ``ON CONFLICT`` clause (a line beginning with it: not a comment), up to the line
#: beginning with ``RETURNING`` (or the end)
_ON_CONFLICT = re.compile(r"^[ \t]*ON\s+CONFLICT\b.*?(?=^[ \t]*RETURNING\b|\Z)",
                          re.IGNORECASE | re.DOTALL | re.MULTILINE)


def without_arbiter(statement: str) -> str:
    """``statement`` (one INSERT whose ``ON CONFLICT`` clause begins a line and ends before the
    line beginning with ``RETURNING`` or at the statement's end) without that clause: the
    statement of a first build into an empty, locked table whose unique keys
    :func:`indexes_built_after` dropped (``unique_keys``), where there is nothing to conflict
    with and no arbiter index to name. Raises ``ValueError`` unless there is exactly one."""
    stripped, n = _ON_CONFLICT.subn("", statement)
    if n != 1:
        raise ValueError(f"expected one ON CONFLICT clause, found {n}")
    return stripped


@contextmanager
def indexes_rebuilt_after(conn: Connection, tables: list[str]) -> Iterator[list[str]]:
    """Around a rebuild of ``tables`` that the transaction emptied (TRUNCATE: it holds their
    ``ACCESS EXCLUSIVE`` lock): every index, primary key and unique constraint included, is dropped
    and created again after the body, in the same transaction (one sort each instead of a
    random btree descent per inserted row). Yields the indexes. A duplicate key then fails the
    constraint's creation instead of an insert: the transaction rolls back either way. A table
    whose index another constraint (a foreign key) needs keeps its indexes."""
    rows = conn.execute(sa.text(sql_text("warehouse/rebuildable_indexes.sql")), {"tables": list(tables)}).all()
    for row in rows:
        conn.exec_driver_sql(row.drop_sql)
    yield [row.index_name for row in rows]
    for row in rows:
        conn.exec_driver_sql(row.create_sql)


#: autovacuum's default ``autovacuum_analyze_scale_factor``: a load that changed this share of a
#: table's estimated rows leaves the planner's statistics stale.
ANALYZE_SHARE = 0.1


def analyze_if_stale(engine: Engine, changed: Mapping[str, int]) -> list[str]:
    """``ANALYZE`` each table of ``changed`` (table -> rows inserted, updated or deleted by a load
    that committed) whose planner statistics are missing (never analyzed: ``reltuples`` < 0) or
    that changed at least ``ANALYZE_SHARE`` of its estimated rows; returns the tables analyzed.

    The steps downstream of a load run seconds after it commits, before autovacuum (when the
    server runs it at all: the benchmark's server does not) would analyze the table, so without
    this a first load is planned as an empty table (a per-learner index loop over 10M events
    instead of one scan). ANALYZE samples (~30,000 rows) and takes a lock that blocks neither
    reads nor writes."""
    candidates = {t: n for t, n in changed.items() if n > 0}
    if not candidates:
        return []
    with engine.connect() as conn:
        estimates = dict(conn.execute(
            sa.text("select relname, reltuples from pg_class where relname = any(:t) and relkind in ('r', 'p') "
                    "and relnamespace = 'public'::regnamespace"), {"t": list(candidates)}).all())
    stale = [t for t, n in candidates.items() if t in estimates and (estimates[t] < 0 or n >= ANALYZE_SHARE * estimates[t])]
    if stale:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("analyze " + ", ".join(f'"{t}"' for t in stale)))
    return stale
