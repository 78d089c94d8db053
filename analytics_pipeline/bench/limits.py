"""The machine's limits the pipeline is compared with, on the same rows in the same run.

- **COPY limit**: the raw rows the sandbox serves (visible at its clock) are dumped once to
  CSV files (untimed), then each file is streamed with ``COPY ... FROM STDIN`` into an empty
  copy of its raw table with the same shape (timed; :func:`create_limit_table`): ``LIKE ...
  INCLUDING ALL`` (indexes, defaults, checks) and the same triggers, which fire as on a first
  load into a new warehouse (the tables their functions touch are empty copies in the limit's
  schema). Foreign keys are not copied (no raw table of the large endpoints has one).
- **Transfer limit**: every page of every endpoint downloaded with ``requests`` at the
  pipeline's page size, bytes streamed and dropped; only the tail of each body is looked at to
  find ``next_cursor`` (no JSON parsing, no loading).
"""
from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import requests
import sqlalchemy as sa

from analytics_pipeline.warehouse.bulk import sql_text
from analytics_pipeline.warehouse.engine import make_engine

CHUNK_ROWS = 200_000
COPY_BLOCK = 1 << 20
LIMIT_SCHEMA = "bench_limit"


@dataclass(frozen=True)
class RawTarget:
    """Where an endpoint's rows land: table, the contract fields that become its columns, and how."""

    resource: str
    table: str
    fields: tuple[str, ...]                      # contract field names (= column names)
    json_fields: tuple[str, ...] = ()
    array_fields: tuple[str, ...] = ()
    child: str | None = None                     # nested list field -> child table


RAW_TARGETS: tuple[RawTarget, ...] = (
    RawTarget("organizations", "organizations", ("id", "name", "domain", "settings", "created_at", "updated_at"),
              json_fields=("settings",)),
    RawTarget("users", "users", ("id", "email", "full_name", "avatar_url", "organization_id", "created_at", "updated_at"),
              child="roles"),
    RawTarget("skills", "skills", ("id", "name", "domain", "level", "updated_at")),
    RawTarget("courses", "courses", ("id", "name", "description", "organization_id", "trainer_id", "expected_weeks",
                                     "created_at", "updated_at"), child="skills"),
    RawTarget("content", "content_items", ("id", "course_id", "title", "content_type", "skill_ids", "duration_minutes",
                                           "updated_at"), array_fields=("skill_ids",)),
    RawTarget("user-preferences", "user_preferences", ("user_id", "leaderboard_privacy", "predictive_enabled",
                                                       "notification_preferences", "updated_at"),
              json_fields=("predictive_enabled", "notification_preferences")),
    RawTarget("enrollments", "enrollments", ("id", "user_id", "course_id", "enrolled_at", "target_completion_at",
                                             "completed_at", "withdrawn_at", "progress_percent", "status", "updated_at")),
    RawTarget("assessment-results", "assessment_results", ("id", "user_id", "course_id", "assessment_id", "skill_id",
                                                           "score", "passing_score", "submitted_at", "updated_at")),
    RawTarget("user-skills", "user_skills", ("user_id", "skill_id", "mastery_level", "last_assessed_at", "updated_at")),
    RawTarget("learning-events", "learning_events", ("id", "user_id", "course_id", "content_id", "content_type",
                                                     "event_type", "occurred_at", "duration_seconds", "progress_delta",
                                                     "updated_at")),
)
COLUMN_RENAMES = {"predictive_enabled": "predictive_analytics_enabled"}
CHILD_TABLES = {"roles": ("user_roles", ("user_id", "role")), "skills": ("course_skills", ("course_id", "skill_id", "target_level"))}


def _json(value):
    return None if value is None else orjson.dumps(value).decode()


def _pg_array(value):
    if value is None:
        return None
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"


@dataclass
class DumpedTable:
    table: str
    columns: list[str]
    path: Path
    rows: int
    bytes: int


def dump_platform(platform, folder: Path) -> dict[str, DumpedTable]:
    """Write the rows visible at the platform's clock, one CSV per raw table (child tables too)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, DumpedTable] = {}
    for target in RAW_TARGETS:
        table = platform.tables.get(target.resource)
        if table is None:
            continue
        idx, _ = table.select(platform.now, -1, len(table))
        fields = {f.name: f for f in table.fields}
        columns = [COLUMN_RENAMES.get(f, f) for f in target.fields]
        path = folder / f"{target.table}.csv"
        child_rows, child_path = 0, None
        writer = child_writer = None
        with open(path, "wb") as sink:
            child_sink = None
            if target.child:
                child_table, child_columns = CHILD_TABLES[target.child]
                child_path = folder / f"{child_table}.csv"
                child_sink = open(child_path, "wb")
            try:
                for start in range(0, len(idx), CHUNK_ROWS):
                    page_idx = idx[start:start + CHUNK_ROWS]
                    page = {k: v[page_idx] for k, v in table.columns.items()}
                    data = {}
                    for name in target.fields:
                        values = fields[name].build(page)
                        if name in target.json_fields:
                            values = [_json(v) for v in values]
                        elif name in target.array_fields:
                            values = [_pg_array(v) for v in values]
                        data[COLUMN_RENAMES.get(name, name)] = values
                    arrow = pa.table(data)
                    if writer is None:
                        writer = pa_csv.CSVWriter(sink, arrow.schema, write_options=pa_csv.WriteOptions(
                            include_header=False, quoting_style="needed"))
                    writer.write_table(arrow)
                    if target.child:
                        nested = fields[target.child].build(page)
                        ids = data["id"]
                        lengths = np.fromiter((len(v or ()) for v in nested), np.int64, len(nested))
                        owners = np.repeat(np.asarray(ids, object), lengths)
                        flat = [item for v in nested for item in (v or ())]
                        if target.child == "roles":
                            child = {"user_id": owners.tolist(), "role": flat}
                        else:
                            child = {"course_id": owners.tolist(), "skill_id": [i["skill_id"] for i in flat],
                                     "target_level": [float(i["target_level"]) for i in flat]}
                        child_arrow = pa.table(child)
                        if child_writer is None:
                            child_writer = pa_csv.CSVWriter(child_sink, child_arrow.schema, write_options=pa_csv.WriteOptions(
                                include_header=False, quoting_style="needed"))
                        child_writer.write_table(child_arrow)
                        child_rows += len(flat)
            finally:
                if writer is not None:
                    writer.close()
                if child_writer is not None:
                    child_writer.close()
                if child_sink is not None:
                    child_sink.close()
        out[target.table] = DumpedTable(target.table, columns, path, len(idx), path.stat().st_size)
        if target.child:
            child_table, child_columns = CHILD_TABLES[target.child]
            out[child_table] = DumpedTable(child_table, list(child_columns), child_path, child_rows,
                                           child_path.stat().st_size)
    return out


def copy_file(conn, table: str, columns: list[str], path: Path) -> None:
    """Stream a CSV file through ``COPY table (columns) FROM STDIN`` on a psycopg 3 connection."""
    cols = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy, \
            open(path, "rb") as source:
        while block := source.read(COPY_BLOCK):
            copy.write(block)


# a table named in a trigger function's statements (the function's transition tables are no tables)
_TABLE_IN_SQL = re.compile(r"\b(?:from|into|join|update)\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)


def create_limit_table(conn: sa.Connection, table: str, name: str | None = None,
                       foreign_keys: Sequence[sa.Row] = ()) -> None:
    """``LIMIT_SCHEMA.<name>`` (``name``: ``table``): an empty copy of ``public.<table>`` with its indexes, checks, defaults
    and triggers. The tables the trigger functions name are shadowed by empty copies in
    ``LIMIT_SCHEMA`` (a first load into a new warehouse); :func:`timed_copy` puts that schema first
    on the search path, so the triggers fire exactly as on the real table, writing nothing real.
    ``foreign_keys``: the real table's foreign keys (:func:`foreign_keys_of`; ``LIKE ... INCLUDING
    ALL`` copies none) added too, each referencing the parent's limit table when it holds rows (the same dump), else the
    real parent."""
    name = name or table
    conn.exec_driver_sql(f"create table {LIMIT_SCHEMA}.{name} (like public.{table} including all)")
    for definition, source in conn.execute(sa.text(sql_text("bench/limit_triggers.sql")), {"table": table}).all():
        for shadowed in sorted({n.lower() for n in _TABLE_IN_SQL.findall(source)}):
            shadow = conn.execute(sa.text("select to_regclass(:real) is not null and to_regclass(:copy) is null"),
                                  {"real": f"public.{shadowed}", "copy": f"{LIMIT_SCHEMA}.{shadowed}"}).scalar_one()
            if shadow:
                conn.exec_driver_sql(f"create table {LIMIT_SCHEMA}.{shadowed} (like public.{shadowed} including all)")
        conn.exec_driver_sql(re.sub(rf" ON (public\.)?{table} ", f" ON {LIMIT_SCHEMA}.{name} ", definition, count=1))
    for columns, parent, parent_columns in foreign_keys:
        conn.exec_driver_sql(f"alter table {LIMIT_SCHEMA}.{name} add foreign key ({columns}) "
                             f"references {_parent_table(conn, parent)} ({parent_columns})")


def _parent_table(conn: sa.Connection, parent: str) -> str:
    """The parent a keyed limit table references: the parent's limit table when it was loaded."""
    loaded = conn.execute(sa.text(f"select to_regclass('{LIMIT_SCHEMA}.{parent}') is not null")).scalar_one() \
        and conn.exec_driver_sql(f"select exists (select 1 from {LIMIT_SCHEMA}.{parent})").scalar_one()
    return f"{LIMIT_SCHEMA}.{parent}" if loaded else f"public.{parent}"


def foreign_keys_of(conn: sa.Connection, table: str) -> list[sa.Row]:
    """The foreign keys of ``public.<table>``: (columns, parent, parent columns) each."""
    return conn.execute(sa.text(sql_text("bench/limit_foreign_keys.sql")), {"table": table}).all()


def timed_copy(conn: sa.Connection, table: str, columns: list[str], path: Path, name: str | None = None) -> float:
    """Seconds to COPY ``path`` into ``LIMIT_SCHEMA.<name>`` (``name``: ``table``) and commit (its
    triggers see the limit's tables)."""
    driver = conn.connection.driver_connection
    started = time.perf_counter()
    driver.execute(f"set local search_path = {LIMIT_SCHEMA}, public")
    copy_file(driver, f"{LIMIT_SCHEMA}.{name or table}", columns, path)
    driver.commit()
    return time.perf_counter() - started


def copy_limit(database_url: str, dumped: dict[str, DumpedTable]) -> dict[str, dict]:
    """Time COPY of each dumped file into an empty copy of its raw table (own schema, dropped after)."""
    engine = make_engine(database_url)
    results = {}
    with engine.begin() as conn:
        conn.execute(sa.text(f"drop schema if exists {LIMIT_SCHEMA} cascade; create schema {LIMIT_SCHEMA}"))
    try:
        for name, dump in dumped.items():
            with engine.connect() as conn:
                create_limit_table(conn, name)
                conn.commit()
                seconds = timed_copy(conn, name, dump.columns, dump.path)
            results[name] = {"rows": dump.rows, "bytes": dump.bytes, "seconds": round(seconds, 3),
                             "rows_per_s": round(dump.rows / seconds) if seconds > 0 else None}
            results[name].update(_keyed_copy(engine, name, dump))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop schema if exists {LIMIT_SCHEMA} cascade"))
    return results


def _keyed_copy(engine: sa.Engine, name: str, dump: DumpedTable) -> dict:
    """The same COPY into a copy that has the real table's foreign keys too (their checks are
    work a load into the real table cannot skip): ``seconds_with_keys``, or ``keys_error`` when
    the dump's rows do not satisfy them; nothing for a table without foreign keys."""
    keyed = f"{name}__keyed"
    with engine.connect() as conn:
        keys = foreign_keys_of(conn, name)
        if not keys:
            return {}
        try:
            create_limit_table(conn, name, keyed, foreign_keys=keys)
            conn.commit()
            return {"seconds_with_keys": round(timed_copy(conn, name, dump.columns, dump.path, keyed), 3)}
        except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:  # the COPY runs on the raw driver
            conn.connection.driver_connection.rollback()
            conn.rollback()
            return {"keys_error": str(exc).splitlines()[0][:200]}
        finally:
            conn.exec_driver_sql(f"drop table if exists {LIMIT_SCHEMA}.{keyed}")
            conn.commit()


def load_raw_tables(database_url: str, dumped: dict[str, DumpedTable]) -> dict[str, int]:
    """COPY the dumped rows into the real raw tables (only used when the graph has no sources
    assets, so that the analytics comparison still has data). Parents first."""
    order = ["organizations", "users", "user_roles", "skills", "courses", "course_skills", "content_items",
             "user_preferences", "enrollments", "assessment_results", "user_skills", "learning_events"]
    engine = make_engine(database_url)
    raw = engine.raw_connection()
    loaded = {}
    try:
        driver = raw.driver_connection
        for name in order:
            if name in dumped:
                copy_file(driver, name, dumped[name].columns, dumped[name].path)
                loaded[name] = dumped[name].rows
        driver.commit()
    finally:
        raw.close()
    return loaded


_CURSOR = re.compile(rb'"next_cursor"\s*:\s*(null|"([^"]*)")\s*}\s*$')


def transfer_limit(api_url: str, token: str, resources: list[str], page_size: int) -> dict[str, dict]:
    """Download every page of each resource; bytes dropped, only ``next_cursor`` taken from the tail."""
    results = {}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for resource in resources:
            started = time.perf_counter()
            pages = size = 0
            cursor = None
            while True:
                params = {"limit": page_size}
                if cursor:
                    params["cursor"] = cursor
                with session.get(f"{api_url}/v1/{resource}", params=params, stream=True, timeout=120) as response:
                    response.raise_for_status()
                    tail = b""
                    for block in response.iter_content(COPY_BLOCK):
                        size += len(block)
                        tail = (tail + block)[-512:]
                pages += 1
                match = _CURSOR.search(tail)
                if match is None:
                    raise RuntimeError(f"no next_cursor at the end of a /v1/{resource} page")
                cursor = match.group(2).decode() if match.group(2) is not None else None
                if not cursor:
                    break
            seconds = time.perf_counter() - started
            results[resource] = {"pages": pages, "bytes": size, "seconds": round(seconds, 3)}
    return results
