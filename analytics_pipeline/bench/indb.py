"""The in-database alternative: engagement and performance as one SQL statement each
(``sql/queries/bench/*.sql``, materialized with ``CREATE TABLE AS`` the way dbt builds a
table model), timed, and compared per learner with the pandas path.

The pandas values come from the pipeline's own snapshot table (rows of ``calculated_at = T``)
when the graph wrote them, else from the pure function run here on frames read from the
warehouse (read and compute timed separately).
"""
from __future__ import annotations

import io
import time

import pandas as pd
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from analytics_pipeline.governance.policy import RETENTION_POLICY
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.warehouse.bulk import sql_text
from analytics_pipeline.warehouse.engine import make_engine

SQL_SCHEMA = "bench_sql"
CATEGORIES = {"engagement": "engagement_analytics", "performance": "performance_analytics"}

# column -> (kind, tolerance): the independent check's (warehouse/independent_check.py)
COMPARE = {name: independent_check.CHECKS[name].columns for name in CATEGORIES}

# Frames the pure functions need, read the way a bulk reader would (COPY TO STDOUT, epochs).
_TS = "(extract(epoch from {c}) * 1000000)::bigint as {c}"
READS = {
    "enrollments": ("select user_id, course_id, " + ", ".join(_TS.format(c=c) for c in
                    ("enrolled_at", "target_completion_at", "completed_at", "withdrawn_at"))
                    + ", progress_percent::float8 as progress_percent from enrollments",
                    ("enrolled_at", "target_completion_at", "completed_at", "withdrawn_at")),
    "learning_events": ("select user_id, " + _TS.format(c="occurred_at") + ", duration_seconds, content_type "
                        "from learning_events where occurred_at <= :t", ("occurred_at",)),
    "assessment_results": ("select id, user_id, assessment_id, skill_id, score::float8 as score, "
                           "passing_score::float8 as passing_score, " + _TS.format(c="submitted_at")
                           + " from assessment_results where submitted_at <= :t", ("submitted_at",)),
    "skills": ("select id, name from skills", ()),
}


def read_copy(conn, sql: str, ts_columns, t: pd.Timestamp) -> pd.DataFrame:
    """COPY (query) TO STDOUT as CSV with a header, parsed by Arrow; epoch-µs columns -> UTC."""
    query = sql.replace(":t", f"'{t.isoformat()}'::timestamptz")
    buffer = io.BytesIO()
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    frame = pa_csv.read_csv(buffer, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True)).to_pandas()
    for column in ts_columns:
        frame[column] = pd.to_datetime(frame[column], unit="us", utc=True)
    return frame


def run_sql(database_url: str, name: str, t: pd.Timestamp) -> dict:
    """``CREATE TABLE bench_sql.<name> AS <query>`` (timed); returns seconds and rows."""
    engine = make_engine(database_url)
    query = independent_check.sampled(sql_text(f"bench/{name}.sql"))  # every learner
    with engine.begin() as conn:
        conn.execute(sa.text(f"create schema if not exists {SQL_SCHEMA}; drop table if exists {SQL_SCHEMA}.{name}"))
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(sa.text(f"create table {SQL_SCHEMA}.{name} as {query}"),
                     {"t": t.to_pydatetime(), "kept": RETENTION_POLICY.activity_cutoff(t).to_pydatetime()})
        seconds = time.perf_counter() - started
        rows = conn.execute(sa.text(f"select count(*) from {SQL_SCHEMA}.{name}")).scalar_one()
    return {"seconds": round(seconds, 3), "rows": rows}


def pandas_in_process(database_url: str, name: str, t: pd.Timestamp) -> tuple[pd.DataFrame, dict]:
    """The pure pandas function on frames read from the warehouse: (result, timings)."""
    from analytics_pipeline.analytics import AnalyticsInputs, compute
    from analytics_pipeline.analytics import INPUTS

    engine = make_engine(database_url)
    started = time.perf_counter()
    frames = {}
    with engine.connect() as conn:
        for frame_name in INPUTS[name]:
            sql, ts_columns = READS[frame_name]
            frames[frame_name] = read_copy(conn, sql, ts_columns, t)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = compute(name, AnalyticsInputs(**frames), t)
    compute_seconds = time.perf_counter() - started
    del frames
    return result, {"read_seconds": round(read_seconds, 3), "compute_seconds": round(compute_seconds, 3),
                    "seconds": round(read_seconds + compute_seconds, 3), "rows": len(result)}


def pipeline_rows(database_url: str, name: str, t: pd.Timestamp) -> pd.DataFrame | None:
    table = CATEGORIES[name]
    engine = make_engine(database_url)
    with engine.connect() as conn:
        exists = conn.execute(sa.text("select to_regclass(:t) is not null"), {"t": table}).scalar_one()
        if not exists:
            return None
        frame = pd.read_sql_query(sa.text(f"select * from {table} where calculated_at = :t"), conn,
                                  params={"t": t.to_pydatetime()})
    return frame if len(frame) else None


def sql_rows(database_url: str, name: str) -> pd.DataFrame:
    with make_engine(database_url).connect() as conn:
        return pd.read_sql_query(sa.text(f"select * from {SQL_SCHEMA}.{name}"), conn)


def compare(name: str, ours: pd.DataFrame, theirs: pd.DataFrame, examples: int = 5) -> dict:
    """Per-learner comparison of the pandas rows (``ours``) and the SQL rows (``theirs``): the
    independent check's comparison (``warehouse.independent_check.compare``) with the
    benchmark's tolerances, and its historical key names."""
    report = independent_check.compare(COMPARE[name], ours, theirs, examples=examples)
    report.update(learners_pandas=report["published"], learners_sql=report["independent"],
                  learners_compared=report["compared"], only_pandas=report["only_published"],
                  only_pandas_count=report["only_published_count"], only_sql=report["only_independent"],
                  only_sql_count=report["only_independent_count"],
                  mismatched_learners=report["mismatching_count"])
    report["passed"] = bool(report["passed"] and report["compared"] > 0)
    return report
