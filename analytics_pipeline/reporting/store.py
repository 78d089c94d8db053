"""The reporting layer's store: everything the analyst report reads (SQL in
``sql/queries/reporting/``), gathered into one :class:`ReportData` for the pure renderer
(``render.py``). The leaderboard comes from the masked view leaderboard_weekly: hidden learners
left out, anonymous ones masked, as sql/migrations/0005_gamification.sql builds it.
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics_pipeline.reporting.render import ReportData
from analytics_pipeline.warehouse import sql_text
from analytics_pipeline.warehouse.table_counts import COUNTED_TABLES, row_counts

TOP_N = 10
CRITICAL_GAP = 40.0


def _read(conn: Connection, name: str, **params) -> pd.DataFrame:
    result = conn.execute(sa.text(sql_text(f"reporting/{name}.sql")), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def day_table_rows(conn: Connection, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows per counted table for the reported day: a snapshot table (one with ``calculated_at``)
    counts the rows of the day's snapshot (calculated_at = T), any other table every row it holds
    now; ``rows`` None when the table does not exist yet."""
    snapshot_tables = set(conn.execute(sa.text(
        "select table_name from information_schema.columns where table_schema = 'public' "
        "and column_name = 'calculated_at' and table_name = any(:tables)"), {"tables": list(COUNTED_TABLES)}).scalars())
    totals = row_counts(conn)
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
    at = as_of.to_pydatetime()
    return ReportData(
        partition=partition,
        generated_at=pd.Timestamp.now(tz="UTC"),
        engagement=_read(conn, "engagement_by_organization", as_of=at),
        velocity=_read(conn, "velocity_status_by_organization", as_of=at),
        skill_gaps=_read(conn, "common_skill_gaps", as_of=at, critical_gap=CRITICAL_GAP, top=15),
        leaderboard=_read(conn, "leaderboard_top", top=TOP_N),
        peers=_read(conn, "peer_comparisons"),
        drop_off=_read(conn, "drop_off_risk", as_of=at),
        table_rows=day_table_rows(conn, as_of),
        quarantine=_read(conn, "quarantine_share"),
        k_anonymity=k_anonymity,
    )
