"""Loading one resource: pages -> validated batches -> one COPY into the table (or staging + upsert).

Transaction design (chosen and tested): **one transaction per resource extraction**. The rows,
their child rows (user_roles, course_skills), the quarantine entries and the new watermark in
``extraction_watermarks`` commit together, or — on any error: retries exhausted, bad token,
cursor loop, database error — none of it does, so the next run starts again from the same
watermark and nobody ever sees a partial extraction. The uncommitted rows wait in PostgreSQL,
not in Python.

Pipeline (three threads, so the HTTP waits, the decoding and PostgreSQL's work overlap): a
thread fetches pages (decoded column-wise by Arrow when the resource allows, ``columnar.py``;
the next page's GET is read ahead while a page is decoded, ``client.py``) up to
``PREFETCH_PAGES`` ahead; a second groups them into batches of about ``batch_rows`` rows,
validates them and prepares what needs no database (:meth:`TableSink.prepare`: the table's rows
and, for a straight COPY, its CSV bytes and the deferred indexes' key-size check), up to
``PREFETCH_BATCHES`` ahead; the caller's thread writes each batch, so on the COPY path it only
streams bytes and PostgreSQL never waits for Python to serialise the next batch. Memory stays
bounded by those few pages and batches.

The watermark after a run is the largest ``updated_at`` received (valid or quarantined rows
whose timestamp parses): the API returns rows with ``updated_at`` strictly later than
``updated_since`` in (updated_at, id) order, and since the whole extraction commits at once
there is no batch boundary inside a group of equal timestamps to worry about.

Writing a batch (resources without child rows): while none of its keys is in the table yet —
a first load, or new rows only such as appended learning events — the batch is COPied straight
into the table inside a savepoint: one pass, the same work as the COPY limit. The first key
conflict rolls the savepoint back and the batch, and every later one, take the upsert:
COPY into a temp staging table, then ``INSERT ... SELECT DISTINCT ON (key) ... ORDER BY key,
updated_at DESC ON CONFLICT (key) DO UPDATE ... WHERE excluded.updated_at > target.updated_at OR
(the same updated_at AND the values differ)`` — the newest version wins, re-reading a row is
idempotent, and a row read again unchanged is not rewritten (no new row version, no index
entries, no trigger rows). Both give the same table. A full refresh (run config) reads from the beginning through the same path.

A first load (the table empty, nobody using it) also builds the table's plain secondary indexes
once after the rows instead of row by row (``bulk.DeferredIndexes``; the primary key stays), in the
same transaction.

One bad row never fails the batch: what PostgreSQL cannot store is quarantined by validation
(``contract`` docstring), and each batch is written in a savepoint that, when the database still
rejects it for a row's sake, is bisected down to the rows it refuses (``TableSink._isolated``,
``warehouse.bulk.write_isolating``); those are quarantined with the database's message.

Unknown parents: rows whose foreign key names a parent missing from the warehouse (parents load
first: asset deps; one query per parent and batch over its distinct keys) go to the quarantine with reason ``unknown parent <table>.id`` and
counted. They are not retried automatically (the watermark passes them); a full refresh re-reads
them once the parent exists.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.sources.client import LmsClient, Page
from analytics_pipeline.sources.columnar import validate_pages
from analytics_pipeline.sources.contract import Validated
from analytics_pipeline.sources.specs import SourceSpec
from analytics_pipeline.warehouse.bulk import (
    analyze_if_stale,
    DeferredIndexes, copy_csv, copy_frame, flagged, frame_to_csv, quarantine_rows, write_isolating,
    without_gone_learners,
)

DEFAULT_BATCH_ROWS = 50_000
PREVIEW_ROWS = 5


@dataclass
class ExtractionStats:
    """Counters of one extraction (the asset's metadata)."""

    resource: str
    full_refresh: bool = False
    pages: int = 0
    bytes: int = 0
    rows_received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined_invalid: int = 0
    quarantined_orphans: int = 0
    dropped_erased: int = 0  # rows of learners erased while the batch was written (never quarantined)
    deleted: int = 0
    child_rows: int = 0
    api_attempts: int = 0
    api_retries: int = 0
    watermark_before: pd.Timestamp | None = None
    watermark_after: pd.Timestamp | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    preview: pd.DataFrame | None = None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def quarantined(self) -> int:
        return self.quarantined_invalid + self.quarantined_orphans

    @property
    def quarantined_share(self) -> float:
        return self.quarantined / self.rows_received if self.rows_received else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_received / self.elapsed if self.elapsed > 0 else 0.0


def format_watermark(value: pd.Timestamp | None) -> str | None:
    """RFC 3339 UTC text for ``updated_since`` (microseconds only when present)."""
    if value is None or pd.isna(value):
        return None
    value = pd.Timestamp(value).tz_convert("UTC")
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{value.microsecond:06d}" if value.microsecond else "") + "Z"


def _latest(*values: pd.Timestamp | None) -> pd.Timestamp | None:
    present = [pd.Timestamp(v) for v in values if v is not None and not pd.isna(v)]
    return max(present) if present else None


class Watermarks:
    """``extraction_watermarks``: read and advance inside the extraction's transaction."""

    def __init__(self, conn: Connection, resource: str):
        self.conn, self.resource = conn, resource

    def lock_and_read(self) -> pd.Timestamp | None:
        """Serialise extractions of the same resource, then read its watermark."""
        self.conn.execute(sa.text("select pg_advisory_xact_lock(hashtext('extract:' || :r))"), {"r": self.resource})
        value = self.conn.execute(
            sa.text("select watermark from extraction_watermarks where resource = :r"), {"r": self.resource}
        ).scalar_one_or_none()
        return pd.Timestamp(value).tz_convert("UTC") if value is not None else None

    def advance(self, watermark: pd.Timestamp | None, rows: int, run_id: str | None) -> None:
        self.conn.execute(
            sa.text(
                "insert into extraction_watermarks (resource, watermark, rows_loaded, updated_at, run_id) "
                "values (:r, :w, :n, now(), :run) on conflict (resource) do update set "
                "watermark = excluded.watermark, rows_loaded = extraction_watermarks.rows_loaded + excluded.rows_loaded, "
                "updated_at = now(), run_id = excluded.run_id"
            ),
            {"r": self.resource, "w": watermark.to_pydatetime() if watermark is not None else None, "n": rows, "run": run_id},
        )


def quarantine(conn: Connection, resource: str, rows: pd.DataFrame, run_id: str | None) -> int:
    """COPY rows (source_id, reason, payload) into ``quarantine``."""
    return quarantine_rows(conn, resource, rows, run_id)


@dataclass
class Prepared:
    """What :meth:`TableSink.prepare` computed for a batch outside the writing thread."""

    rows: pd.DataFrame  # the table's rows (``spec.table_frame``)
    csv: bytes | None = None  # ``rows`` as COPY CSV (None when parents are checked first)
    admitted: bool | None = True  # every key fits the deferred indexes' btrees (``DeferredIndexes.admits``); None: not checked yet


class TableSink:
    """Writes validated batches of one resource into its table (and child table).

    ``defer_indexes``: on a first load (the table empty), its secondary indexes are built once
    after the rows instead of row by row (``bulk.DeferredIndexes``); :meth:`finish` builds them.
    """

    def __init__(self, conn: Connection, spec: SourceSpec, stats: ExtractionStats, run_id: str | None,
                 defer_indexes: bool = False):
        self.conn, self.spec, self.stats, self.run_id = conn, spec, stats, run_id
        self.stage = f"stage_{spec.table}"
        # COPY straight into the table while no key conflicts (no child rows to replace)
        self.direct = spec.child is None
        self.deferred = DeferredIndexes.begin(conn, spec.table) if defer_indexes and self.direct else None
        self.child_stage = f"stage_{spec.child.table}" if spec.child else None
        columns = ", ".join(f'"{c}"' for c in spec.columns)
        conn.execute(sa.text(f"create temp table {self.stage} on commit drop as select {columns} from {spec.table} limit 0"))
        if spec.child:
            conn.execute(sa.text(
                f"create temp table {self.child_stage} on commit drop as "
                f"select *, null::timestamptz as parent_updated_at from {spec.child.table} limit 0"
            ))

    def prepare(self, validated: Validated) -> Prepared | None:
        """The batch's database-free work, done by the validation thread (no connection used).

        Also the CSV bytes when no parent check can drop rows first; :meth:`write` COPies them
        (into the table or the staging table) only for the whole batch as prepared.
        """
        if validated.valid.empty:
            return None
        rows = self.spec.table_frame(validated.valid)
        deferred = self.deferred
        csv = frame_to_csv(rows, self.spec.json_columns, self.spec.array_columns) if not self.spec.parents else None
        return Prepared(rows, csv, deferred.admits(rows) if deferred is not None else True)

    def write(self, validated: Validated, prepared: Prepared | None = None) -> None:
        self.stats.quarantined_invalid += quarantine(self.conn, self.spec.resource, validated.rejected, self.run_id)
        if validated.valid.empty:
            return
        if prepared is None:
            prepared = Prepared(self.spec.table_frame(validated.valid), None, None)
        rows = prepared.rows
        if self.stats.preview is None:
            self.stats.preview = rows.head(PREVIEW_ROWS)
        rows = self._without_orphans(rows)
        csv = prepared.csv if len(rows) == len(prepared.rows) else None
        if self.deferred is not None and not (prepared.admitted if prepared.admitted is not None
                                              else self.deferred.admits(rows)):
            self.finish()  # a key too long for a btree: PostgreSQL judges its row with the indexes in place
        if not rows.empty:
            self._isolated(rows, validated.valid, csv)

    def finish(self) -> None:
        """Build the indexes deferred for a first load (before the watermark commits with the rows)."""
        if self.deferred is not None:
            self.deferred.restore()
            self.deferred = None

    def _isolated(self, rows: pd.DataFrame, valid: pd.DataFrame, csv: bytes | None = None) -> None:
        """Write ``rows`` (and their children) in a savepoint; when PostgreSQL rejects them for a row's
        sake (a value out of a column's range, a constraint, an index limit) the batch is bisected
        down to the rows it refuses, which go to the quarantine with the database's message and
        their payload (``bulk.write_isolating``); a row of a learner erased meanwhile (the foreign key to
        users failed, the learner is gone) is dropped and counted instead. Errors no row causes fail the extraction.
        ``csv``: ``rows`` already serialised (:meth:`prepare`), used for the whole batch only.
        """
        def reject(row: pd.DataFrame, reason: str) -> None:
            frame = flagged(row, [reason], self.spec.key)
            self.stats.quarantined_invalid += quarantine(self.conn, self.spec.resource, frame, self.run_id)

        def apply(part: pd.DataFrame) -> tuple[int, int, int, int]:
            return self._apply(part, valid, csv if part is rows else None)

        def drop_gone(part: pd.DataFrame) -> pd.DataFrame:  # learners erased while the batch was written
            kept, dropped = without_gone_learners(self.conn, part)
            self.stats.dropped_erased += dropped
            return kept

        for counts in write_isolating(self.conn, rows, apply, reject, drop_gone):
            self.stats.inserted += counts[0]
            self.stats.updated += counts[1]
            self.stats.unchanged += counts[2]
            self.stats.child_rows += counts[3]

    def _apply(self, rows: pd.DataFrame, valid: pd.DataFrame, csv: bytes | None = None) -> tuple[int, int, int, int]:
        """Write the rows (and their children); (inserted, updated, unchanged, child rows)."""
        if self.direct and self._copy_direct(rows, csv):
            return len(rows), 0, 0, 0
        self.conn.execute(sa.text(f"truncate {self.stage}"))
        if csv is not None:
            copy_csv(self.conn, self.stage, list(rows.columns), csv)
        else:
            copy_frame(self.conn, self.stage, rows, self.spec.json_columns, self.spec.array_columns)
        counts = self._upsert()
        children = self._replace_children(valid.loc[rows.index]) if self.spec.child else 0
        return (*counts, children)

    def _copy_direct(self, rows: pd.DataFrame, csv: bytes | None = None) -> bool:
        """COPY the batch straight into the table (one pass), in a savepoint.

        Right while none of its keys is in the table yet nor twice in the batch: then the upsert
        would insert every row. A key conflict rolls the savepoint back and returns False; the
        batch and every later one go through the staging table and the upsert.
        """
        try:
            with self.conn.begin_nested():
                if csv is not None:
                    copy_csv(self.conn, self.spec.table, list(rows.columns), csv)
                else:
                    copy_frame(self.conn, self.spec.table, rows, self.spec.json_columns, self.spec.array_columns)
        except psycopg.errors.UniqueViolation:
            self.direct = False
            return False
        return True

    def _without_orphans(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` minus those whose parent key names no parent row (those go to the quarantine).

        One query per parent and batch, over the batch's distinct parent keys.
        """
        key = self.spec.key
        for parent in self.spec.parents:
            keys = rows[parent.column].dropna().unique().tolist()
            missing = self.conn.execute(sa.text(
                f"select k from unnest(cast(:keys as text[])) as k where not exists (select 1 from {parent.table} p where p.id = k)"
            ), {"keys": keys}).scalars().all() if keys else []
            if not missing:
                continue
            orphan = rows[parent.column].isin(missing).to_numpy()
            orphans = rows[orphan].drop_duplicates(key)
            reasons = "unknown parent " + parent.table + ".id=" + orphans[parent.column].astype(str)
            frame = flagged(orphans, reasons.to_numpy(), key)
            self.stats.quarantined_orphans += quarantine(self.conn, self.spec.resource, frame, self.run_id)
            rows = rows[~orphan]
        return rows

    def _upsert(self) -> tuple[int, int, int]:
        key, table = self.spec.key, self.spec.table
        columns = ", ".join(f'"{c}"' for c in self.spec.columns)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in self.spec.columns if c != key)
        # a row read again as it is (same updated_at, same values) is left alone: no new row version,
        # no index entries, no trigger rows (the rollup's dirty cells)
        values = [f'"{c}"' for c in self.spec.columns if c not in (key, "updated_at")]
        changed = (f"({', '.join('t.' + c for c in values)}) is distinct from "
                   f"({', '.join('excluded.' + c for c in values)})")
        inserted, updated, staged = self.conn.execute(sa.text(
            f"with upserted as ("
            f"  insert into {table} as t ({columns})"
            f"  select distinct on (\"{key}\") {columns} from {self.stage} order by \"{key}\", updated_at desc"
            f"  on conflict (\"{key}\") do update set {updates}"
            f"  where excluded.updated_at > t.updated_at or (excluded.updated_at = t.updated_at and {changed})"
            f"  returning (xmax = 0) as inserted"
            f") select count(*) filter (where inserted), count(*) filter (where not inserted), "
            f"(select count(distinct \"{key}\") from {self.stage}) from upserted"
        )).one()
        return inserted, updated, staged - inserted - updated

    def _replace_children(self, valid: pd.DataFrame) -> int:
        """Children of the parent rows this batch applied are replaced by the batch's version."""
        child, spec = self.spec.child, self.spec
        children = child.build(valid)
        applied = (f"select s.id from {self.stage} s join {spec.table} p on p.id = s.id and p.updated_at = s.updated_at")
        self.conn.execute(sa.text(f"delete from {child.table} where {child.parent_column} in ({applied})"))
        if children.empty:
            return 0
        self.conn.execute(sa.text(f"truncate {self.child_stage}"))
        copy_frame(self.conn, self.child_stage, children)
        columns = ", ".join(c for c in children.columns if c != "parent_updated_at")
        key = ", ".join(child.key)
        result = self.conn.execute(sa.text(
            f"insert into {child.table} ({columns}) "
            f"select distinct on ({key}) {', '.join('c.' + c for c in columns.split(', '))} from {self.child_stage} c "
            f"join {spec.table} p on p.id = c.{child.parent_column} and p.updated_at = c.parent_updated_at "
            f"order by {key} on conflict ({key}) do nothing"
        ))
        return result.rowcount


@dataclass
class Batch:
    """A validated batch and the pages it came from (for the counters and the progress log)."""

    validated: Validated
    endpoint: str
    first_page: int
    last_page: int
    rows: int
    nbytes: int
    prepared: object = None  # the sink's ``prepare(validated)``, when it has one


def validated_batches(pages: Iterable[Page], resource: str, batch_rows: int, prepare=None) -> Iterator[Batch]:
    """Group pages into batches of at most about ``batch_rows`` rows and validate each (then
    ``prepare(validated)``, when given: the sink's database-free work, in this thread)."""
    group: list[Page] = []
    rows = 0
    for page in pages:
        group.append(page)
        rows += len(page)
        if rows >= batch_rows:
            yield _validated(resource, group, rows, prepare)
            group, rows = [], 0
    if group:
        yield _validated(resource, group, rows, prepare)


def _validated(resource: str, pages: list[Page], rows: int, prepare=None) -> Batch:
    validated = validate_pages(resource, pages)
    return Batch(validated, pages[0].endpoint, pages[0].number, pages[-1].number, rows,
                 sum(page.nbytes for page in pages), prepare(validated) if prepare is not None else None)


PREFETCH_PAGES = 12  # pages fetched (and decoded) ahead while a batch is validated
PREFETCH_BATCHES = 2  # validated batches waiting while the previous one is written


def prefetched(items: Iterable, depth: int = PREFETCH_PAGES) -> Iterator:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead, in order.

    The HTTP waits of the next pages overlap the validation and the database work of the
    current batch (both release the GIL while waiting). An exception of the producer is raised
    in the consumer at its place in the sequence; when the consumer stops early the producer
    stops at its next item.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(("error", exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator stage (e.g. another ``prefetched``) stops its own thread
        put(("done", None))

    thread = threading.Thread(target=produce, name="lms-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join(timeout=5)


def extract(
    engine: Engine,
    client: LmsClient,
    resource: str,
    make_sink,
    run_id: str | None = None,
    full_refresh: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    log: logging.Logger | None = None,
) -> ExtractionStats:
    """Extract ``resource`` into the warehouse in one transaction (see the module docstring).

    ``make_sink(conn, stats)`` returns the object whose ``write(validated)`` stores a batch; when
    it also has ``prepare(validated)``, that runs in the validation thread and its result is
    passed on: ``write(validated, prepared)``.
    """
    log = log or logging.getLogger(__name__)
    stats = ExtractionStats(resource, full_refresh=full_refresh)
    with engine.begin() as conn:
        watermarks = Watermarks(conn, resource)
        stats.watermark_before = watermarks.lock_and_read()
        since = None if full_refresh else format_watermark(stats.watermark_before)
        log.info("extracting /v1/%s %s", resource, f"updated since {since}" if since else "from the beginning")
        sink = make_sink(conn, stats)
        seen_latest = None
        pages = prefetched(client.pages(resource, since), PREFETCH_PAGES)
        prepare = getattr(sink, "prepare", None)
        for batch in prefetched(validated_batches(pages, resource, batch_rows, prepare), PREFETCH_BATCHES):
            stats.pages += batch.last_page - batch.first_page + 1
            stats.bytes += batch.nbytes
            stats.rows_received += batch.rows
            log.info("/v1/%s pages %d-%d: %d rows (%d so far, %.1f s, %.0f rows/s)", batch.endpoint, batch.first_page,
                     batch.last_page, batch.rows, stats.rows_received, stats.elapsed, stats.rows_per_second)
            seen_latest = _latest(seen_latest, batch.validated.latest_updated_at)
            if prepare is not None:
                sink.write(batch.validated, batch.prepared)
            else:
                sink.write(batch.validated)
        finish = getattr(sink, "finish", None)
        if finish is not None:
            finish()
        stats.watermark_after = _latest(stats.watermark_before, seen_latest)
        watermarks.advance(stats.watermark_after, stats.rows_received - stats.quarantined, run_id)
    stats.finished = time.monotonic()
    stats.api_attempts, stats.api_retries = client.attempts, client.retries
    log.info("/v1/%s done: %d rows in %d pages, %d inserted, %d updated, %d quarantined, %d deleted, %.1f s (%.0f rows/s)",
             resource, stats.rows_received, stats.pages, stats.inserted, stats.updated, stats.quarantined,
             stats.deleted, stats.elapsed, stats.rows_per_second)
    return stats


def analyze_loaded(engine: Engine, spec: SourceSpec, stats: ExtractionStats) -> list[str]:
    """After the extraction committed: the planner statistics of ``spec``'s table (and child
    table) brought up to date when the load changed a large share of it (bulk.analyze_if_stale)."""
    changed = {spec.table: stats.inserted + stats.updated + stats.deleted}
    if spec.child is not None:
        changed[spec.child.table] = stats.child_rows
    return analyze_if_stale(engine, changed)


#: above this many rows (by the planner's estimate) an extraction asset's ``dagster/row_count`` is
#: the estimate, not a count: ``count(*)`` reads the whole table, 2.5 GB of learning_events at
#: 100,000 learners, ~30 s from a cold disk on the nightly's critical chain (issue 18)
EXACT_ROW_COUNT_MAX = 1_000_000

# the planner's own arithmetic: the tuple density of the last VACUUM / ANALYZE times the pages the
# table has now (so rows appended since are counted); -1 when there is no density yet
_ESTIMATED_ROWS = """
select case when c.reltuples >= 0 and c.relpages > 0
            then round(c.reltuples / c.relpages
                       * (pg_relation_size(c.oid) / current_setting('block_size')::int))::bigint
            else -1 end
from pg_class c where c.oid = to_regclass(:table)
"""


def table_rows(engine: Engine, table: str, exact_max: int = EXACT_ROW_COUNT_MAX) -> tuple[int, bool]:
    """(rows of ``table`` now, whether exact): ``count(*)`` up to ``exact_max`` rows, above it the
    planner's estimate scaled to the table's current size (within ~1 % for an append-mostly table
    analyzed after its large loads; dead rows not yet vacuumed count until then)."""
    with engine.connect() as conn:
        estimate = conn.execute(sa.text(_ESTIMATED_ROWS), {"table": f'"{table}"'}).scalar_one()
        if estimate is not None and estimate > exact_max:
            return int(estimate), False
        return conn.execute(sa.text(f'select count(*) from "{table}"')).scalar_one(), True
