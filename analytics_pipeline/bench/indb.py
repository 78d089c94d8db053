"""The in-database alternative: engagement and performance as one SQL statement each
(``sql/queries/bench/*.sql``, materialized with ``CREATE TABLE AS`` the way dbt builds a
table model), timed, and compared per learner with the pandas path.

The pandas values come from the pipeline's own snapshot table (rows of ``calculated_at = T``)
when the graph wrote them, else from the pure function run here on frames read from the
warehouse (read and compute timed separately).
"""
from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from analytics_pipeline.warehouse.bulk import sql_text
from analytics_pipeline.warehouse.engine import make_engine

SQL_SCHEMA = "bench_sql"
CATEGORIES = {"engagement": "engagement_analytics", "performance": "performance_analytics"}

# column -> (kind, tolerance); kinds: num, exact, ts, json
COMPARE = {
    "engagement": {
        "overall_score": ("num", 1), "trend": ("exact", None), "sessions_per_week": ("num", 0.005),
        "avg_session_duration": ("num", 1), "last_active": ("ts", None),
        "engagement_by_type": ("json", 1e-4), "weekly_trend": ("json", 1),
    },
    "performance": {
        "avg_score": ("num", 0.01), "trend": ("exact", None), "assessments_taken": ("num", 0),
        "pass_rate": ("num", 0.01), "performance_by_skill": ("json", 0.01), "recent_scores": ("json", 1e-6),
    },
}

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
    query = sql_text(f"bench/{name}.sql")
    with engine.begin() as conn:
        conn.execute(sa.text(f"create schema if not exists {SQL_SCHEMA}; drop table if exists {SQL_SCHEMA}.{name}"))
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(sa.text(f"create table {SQL_SCHEMA}.{name} as {query}"), {"t": t.to_pydatetime()})
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


def _parsed(series: pd.Series) -> pd.Series:
    return series.map(lambda v: json.loads(v) if isinstance(v, str) else v)


def _long(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A JSON column in long form: one row per (user, position[, key]) with its scalar value."""
    values = _parsed(frame.set_index("user_id")[column])
    values = values.map(lambda v: sorted(v.items()) if isinstance(v, dict) else v)
    exploded = values.explode().dropna()
    out = pd.DataFrame({"user_id": exploded.index.to_numpy()})
    out["pos"] = out.groupby("user_id").cumcount()
    items = exploded.tolist()
    if items and isinstance(items[0], dict):
        out = out.join(pd.DataFrame.from_records(items))
    elif items and isinstance(items[0], tuple):
        out = out.join(pd.DataFrame(items, columns=["key", "value"]))
    else:
        out["value"] = items
    return out


def compare(name: str, ours: pd.DataFrame, theirs: pd.DataFrame, examples: int = 5) -> dict:
    """Per-learner comparison of the pandas rows (``ours``) and the SQL rows (``theirs``)."""
    ours = ours.assign(user_id=ours["user_id"].astype(str))
    theirs = theirs.assign(user_id=theirs["user_id"].astype(str))
    only_ours = sorted(set(ours["user_id"]) - set(theirs["user_id"]))
    only_sql = sorted(set(theirs["user_id"]) - set(ours["user_id"]))
    both = ours.merge(theirs, on="user_id", suffixes=("_pandas", "_sql"))
    report = {"learners_pandas": len(ours), "learners_sql": len(theirs), "learners_compared": len(both),
              "only_pandas": only_ours[:examples], "only_pandas_count": len(only_ours),
              "only_sql": only_sql[:examples], "only_sql_count": len(only_sql), "columns": {}}
    for column, (kind, tol) in COMPARE[name].items():
        a, b = both[f"{column}_pandas"], both[f"{column}_sql"]
        if kind == "num":
            diff = (pd.to_numeric(a).astype(float) - pd.to_numeric(b).astype(float)).abs()
            bad = diff > tol + 1e-9
            inexact = int((diff > 1e-9).sum())
        elif kind == "ts":
            bad = pd.to_datetime(a, utc=True) != pd.to_datetime(b, utc=True)
            inexact = int(bad.sum())
        elif kind == "exact":
            bad = a.astype(str) != b.astype(str)
            inexact = int(bad.sum())
        else:
            la = _long(both[["user_id", f"{column}_pandas"]].rename(columns={f"{column}_pandas": column}), column)
            lb = _long(both[["user_id", f"{column}_sql"]].rename(columns={f"{column}_sql": column}), column)
            merged = la.merge(lb, on=["user_id", "pos"], how="outer", suffixes=("_a", "_b"), indicator=True)
            wrong = merged["_merge"] != "both"
            inexact_rows = wrong.copy()
            for field in [c[:-2] for c in merged.columns if c.endswith("_a")]:
                x, y = merged[f"{field}_a"], merged[f"{field}_b"]
                numeric = pd.to_numeric(x, errors="coerce").notna() & pd.to_numeric(y, errors="coerce").notna() \
                    & ~x.map(lambda v: isinstance(v, str)) & ~y.map(lambda v: isinstance(v, str))
                xn = pd.to_numeric(x.where(numeric), errors="coerce").astype(float)
                yn = pd.to_numeric(y.where(numeric), errors="coerce").astype(float)
                num_diff = (xn - yn).abs().fillna(0.0)
                same_other = (x.isna() & y.isna()) | (x.astype(str) == y.astype(str))
                wrong |= np.where(numeric, num_diff > tol + 1e-9, ~same_other)
                inexact_rows |= np.where(numeric, num_diff > 1e-9, ~same_other)
            bad_users = set(merged.loc[wrong, "user_id"])
            bad = both["user_id"].isin(bad_users)
            inexact = int(both["user_id"].isin(set(merged.loc[inexact_rows, "user_id"])).sum())
        entry = {"mismatches": int(bad.sum()), "not_exact": inexact, "tolerance": tol}
        if bad.any():
            sample = both.loc[bad, ["user_id", f"{column}_pandas", f"{column}_sql"]].head(examples)
            entry["examples"] = json.loads(sample.to_json(orient="records", date_format="iso", default_handler=str))
        report["columns"][column] = entry
    report["mismatched_learners"] = int(sum(c["mismatches"] for c in report["columns"].values()))
    report["passed"] = bool(report["mismatched_learners"] == 0 and not only_ours and not only_sql and len(both) > 0)
    return report
