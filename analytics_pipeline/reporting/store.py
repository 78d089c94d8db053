"""The reporting layer's store: everything the analyst report reads (SQL in
``sql/queries/reporting/``), gathered into one :class:`ReportData` for the pure renderer
(``render.py``). The leaderboard comes from the masked view leaderboard_weekly: hidden learners
left out, anonymous ones masked, as sql/migrations/0005_gamification.sql builds it.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.reporting.render import ReportData
from analytics_pipeline.warehouse import sql_text
from analytics_pipeline.warehouse.table_counts import COUNTED_TABLES, row_counts

TOP_N = 10
CRITICAL_GAP = 40.0


# The report's reads sort every snapshot of a learner to find the latest one (DISTINCT ON) and
# group the skill gaps' jsonb elements: with the server's default work_mem (4 MB) both spilled to
# disk (external merge, 0.45 s of common_skill_gaps at M). JIT off: a count(*) of learning_events
# at L passes jit_above_cost, and compiling costs more than the scan it would speed up.
READ_SETTINGS = ("set local work_mem = '64MB'", "set local jit = off")
#: the first statement of the report's transactions: every read sees the same snapshot
SNAPSHOT_TRANSACTION = "set transaction isolation level repeatable read, read only"
SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def _read(conn: Connection, name: str, **params) -> pd.DataFrame:
    """The rows of ``sql/queries/reporting/<name>.sql`` as a frame. Built from the driver's plain
    tuples (``result.cursor``): pandas took 2-3x longer over SQLAlchemy's Row objects (0.8 s of the
    collection at M); the text query has no result processors, so the values are the same."""
    result = conn.execute(sa.text(sql_text(f"reporting/{name}.sql")), params)
    return pd.DataFrame(result.cursor.fetchall(), columns=list(result.keys()))


def day_table_rows(conn: Connection, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows per counted table for the reported day: a snapshot table (one with ``calculated_at``)
    counts the rows of the day's snapshot (calculated_at = T), any other table every row it holds
    now; ``rows`` None when the table does not exist yet."""
    snapshot_tables = set(conn.execute(sa.text(
        "select table_name from information_schema.columns where table_schema = 'public' "
        "and column_name = 'calculated_at' and table_name = any(:tables)"), {"tables": list(COUNTED_TABLES)}).scalars())
    # every row of a snapshot table is never shown: only the other tables are counted in full
    totals = row_counts(conn, tuple(t for t in COUNTED_TABLES if t not in snapshot_tables))
    rows = []
    for table in COUNTED_TABLES:
        if table in snapshot_tables:
            count = conn.execute(sa.text(f'select count(*) from "{table}" where calculated_at = :t'),
                                 {"t": as_of.to_pydatetime()}).scalar_one()
            rows.append((table, int(count), "day"))
        else:
            rows.append((table, totals[table], "all"))
    return pd.DataFrame(rows, columns=["table", "rows", "scope"])


def collect_report_data(conn: Connection, partition: str, as_of: pd.Timestamp, k_anonymity: int) -> ReportData:
    """Everything the report shows, read from one snapshot of the warehouse (``conn`` outside a
    transaction). The table counts (exact count(*) of learning_events, point_transactions, ...:
    the longest reads, growing with the history) run meanwhile on a second connection that
    imports this transaction's snapshot (``pg_export_snapshot``): the same rows as if counted
    here, off the report's critical path while the other reads and their frames are built."""
    at = as_of.to_pydatetime()
    with conn.begin() as transaction:
        conn.execute(sa.text(SNAPSHOT_TRANSACTION))
        for statement in READ_SETTINGS:
            conn.execute(sa.text(statement))
        snapshot = conn.execute(sa.text("select pg_export_snapshot()")).scalar_one()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-counts") as pool:
            table_rows = pool.submit(day_table_rows_in_snapshot, conn.engine, snapshot, as_of)
            data = ReportData(
                partition=partition,
                generated_at=pd.Timestamp.now(tz="UTC"),
                engagement=_read(conn, "engagement_by_organization", as_of=at),
                velocity=_read(conn, "velocity_status_by_organization", as_of=at),
                skill_gaps=_read(conn, "common_skill_gaps", as_of=at, critical_gap=CRITICAL_GAP, top=15),
                leaderboard=_read(conn, "leaderboard_top", top=TOP_N),
                peers=_read(conn, "peer_comparisons"),
                drop_off=_read(conn, "drop_off_risk", as_of=at),
                quarantine=_read(conn, "quarantine_share"),
                k_anonymity=k_anonymity,
            )
            data.table_rows = table_rows.result()
        transaction.rollback()  # reads only; the settings end with it
    return data


def day_table_rows_in_snapshot(engine: Engine, snapshot: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """:func:`day_table_rows` on a connection of its own that sees the exported ``snapshot``
    (``set transaction snapshot``: the exporting transaction must still be open)."""
    if not SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.text(SNAPSHOT_TRANSACTION))
        conn.execute(sa.text(f"set transaction snapshot '{snapshot}'"))
        for statement in READ_SETTINGS:
            conn.execute(sa.text(statement))
        rows = day_table_rows(conn, as_of)
        transaction.rollback()
    return rows
