"""Loading an LRS's statements: pages -> mapped batches -> the raw tables, in one transaction.

Like the contract's loader (``loader.py``, whose pieces this module calls): the rows, the
quarantine entries, the voids and the watermark of resource ``xapi-statements`` in
``extraction_watermarks`` commit together or not at all, so a failed run (credentials refused,
retries exhausted, a cut page that stays cut) leaves the watermark where it was.

- The watermark is the largest ``stored`` among the statements read (valid or quarantined);
  the next run asks for ``since`` = watermark (minus ``since_overlap_seconds``, for LRSs such as
  Ralph that filter ``since`` on ``timestamp``) and drops statements stored at or before the
  watermark itself, so re-reading never loads or quarantines anything twice.
- Each batch is mapped by ``xapi_mapping.map_statements``; its quarantine rows go to
  ``quarantine`` (resource ``xapi-statements``). With rosters from the contract, events and
  results whose actor is no user of the warehouse are quarantined too (``unknown actor``).
- Progress: the statements carry the cumulative progress in their object; the delta stored in
  ``learning_events.progress_delta`` is its change since the actor's previous statement on that
  object, the earlier ones being this batch's and the warehouse's (the sum of their deltas).
  A progress that goes back gives a delta of 0.
- Events and results are written by the contract loader's ``TableSink`` (COPY straight in while
  no id is there yet, else staging + upsert, the newest ``stored`` wins).
- Rosters from the LRS (``rosters="lrs"``): users (and their ``learner`` role) from the actors,
  courses and content items from the activities (object definitions, context parents), written
  before the batch's events; at the end the enrollments of the (user, course) pairs seen are
  recomputed from the warehouse's events and this run's enrollment signals.
- Voids, at the end of the run: the voided statements' rows are deleted from
  ``learning_events`` and ``assessment_results`` (and the enrollments recomputed).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.settings import env
from analytics_pipeline.sources.contract import Validated
from analytics_pipeline.sources.store.tables import (
    PREFETCH_PAGES,
    ExtractionStats,
    TableSink,
    Watermarks,
    format_watermark,
    prefetched,
    quarantine,
)
from analytics_pipeline.sources.specs import SOURCES_BY_RESOURCE
from analytics_pipeline.sources.xapi_client import XapiClient
from analytics_pipeline.sources.xapi_mapping import Mapped, map_statements
from analytics_pipeline.warehouse.bulk import analyze_if_stale, copy_frame, retrying_erased_learners

RESOURCE = "xapi-statements"
DEFAULT_BATCH_STATEMENTS = 20_000
ROSTER_MODES = ("contract", "lrs")
ACTIVITY_TABLES = ("learning_events", "assessment_results")
ROSTER_TABLES = ("users", "courses", "content_items", "enrollments")
NOT_FROM_LRS = ("organizations", "skills", "user_skills", "user_preferences", "deletions")


def tables_from_lrs(url: str | None = None, rosters: str | None = None) -> tuple[str, ...]:
    """The asset keys the LRS supplies under the configuration (XAPI_LRS_URL, XAPI_ROSTERS): none
    without an LRS; the activity tables with rosters from the contract; every raw table's asset
    (those the LRS cannot fill left as they are) with the LRS alone."""
    url = env("XAPI_LRS_URL") if url is None else url
    rosters = env("XAPI_ROSTERS") if rosters is None else rosters
    if not url:
        return ()
    if rosters not in ROSTER_MODES:
        raise ValueError(f"XAPI_ROSTERS must be one of {', '.join(ROSTER_MODES)}, not {rosters!r}")
    return ACTIVITY_TABLES if rosters == "contract" else (*ACTIVITY_TABLES, *ROSTER_TABLES, *NOT_FROM_LRS)
EMPTY_REJECTED = pd.DataFrame({"source_id": pd.Series(dtype=object), "reason": pd.Series(dtype=object),
                               "payload": pd.Series(dtype=object)})


@dataclass
class XapiStats(ExtractionStats):
    """The counters of one LRS extraction (``tables`` holds each written table's own counters)."""

    statements_before_watermark: int = 0
    skipped: int = 0
    voided: int = 0
    unknown_actors: int = 0
    enrollments_written: int = 0
    erased_learner_retries: int = 0  # the enrollments statement run again without learners erased meanwhile
    tables: dict[str, ExtractionStats] = field(default_factory=dict)


def _valid(frame: pd.DataFrame) -> Validated:
    return Validated(frame.reset_index(drop=True), EMPTY_REJECTED, None)


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), None)


class XapiSink:
    """Writes mapped batches into the raw tables (see the module docstring)."""

    def __init__(self, conn: Connection, stats: XapiStats, run_id: str | None, rosters: str):
        if rosters not in ROSTER_MODES:
            raise ValueError(f"XAPI_ROSTERS must be one of {', '.join(ROSTER_MODES)}, not {rosters!r}")
        self.conn, self.stats, self.run_id, self.rosters = conn, stats, run_id, rosters
        resources = {"learning_events": "learning-events", "assessment_results": "assessment-results"}
        if rosters == "lrs":
            resources |= {"users": "users", "courses": "courses", "content_items": "content"}
        self.sinks = {}
        for table, resource in resources.items():
            stats.tables[table] = ExtractionStats(resource)
            self.sinks[table] = TableSink(conn, SOURCES_BY_RESOURCE[resource], stats.tables[table], run_id)
        self.voided: list[str] = []
        self.signals: list[pd.DataFrame] = []

    def write(self, mapped: Mapped) -> None:
        self.stats.quarantined_invalid += quarantine(self.conn, RESOURCE, mapped.rejected, self.run_id)
        self.stats.skipped += mapped.skipped
        events, results = mapped.events, mapped.results
        if self.rosters == "lrs":
            self._write_rosters(mapped)
            self.signals.append(mapped.enrollments)
        else:
            events, results = self._known_actors(events, mapped), self._known_actors(results, mapped)
        self.sinks["learning_events"].write(_valid(self._with_deltas(events)))
        self.sinks["assessment_results"].write(_valid(results))
        if self.stats.preview is None and not events.empty:
            self.stats.preview = events.head(5)
        self.voided.extend(mapped.voided.tolist())

    def _known_actors(self, rows: pd.DataFrame, mapped: Mapped) -> pd.DataFrame:
        """``rows`` whose user is in ``users``; the others are quarantined (rosters from the contract)."""
        keys = rows["user_id"].dropna().unique().tolist()
        if not keys:
            return rows
        missing = self.conn.execute(sa.text(
            "select k from unnest(cast(:keys as text[])) as k where not exists (select 1 from users u where u.id = k)"
        ), {"keys": keys}).scalars().all()
        if not missing:
            return rows
        unknown = rows["user_id"].isin(missing)
        orphans = rows[unknown]
        payloads = orphans.to_json(orient="records", lines=True, date_format="iso").splitlines()
        frame = pd.DataFrame({"source_id": orphans["id"].to_numpy(),
                              "reason": ("unknown actor: no users.id=" + orphans["user_id"].astype(str)
                                         + " (rosters from the contract)").to_numpy(),
                              "payload": payloads})
        self.stats.unknown_actors += quarantine(self.conn, RESOURCE, frame, self.run_id)
        return rows[~unknown]

    def _with_deltas(self, events: pd.DataFrame) -> pd.DataFrame:
        """Events with ``progress_delta`` (from the cumulative ``progress``; see the module docstring)."""
        out = events.drop(columns="progress").assign(progress_delta=float("nan"))
        has = events["progress"].notna()
        if not has.any():
            return out
        tracked = events[has].sort_values(["user_id", "content_id", "occurred_at", "progress"])
        firsts = tracked.groupby(["user_id", "content_id"], as_index=False)["occurred_at"].min()
        prior = pd.DataFrame(self.conn.execute(sa.text(
            "select k.u as user_id, k.c as content_id, coalesce(sum(e.progress_delta), 0)::float8 as prior "
            "from unnest(cast(:u as text[]), cast(:c as text[]), cast(:t as timestamptz[])) as k(u, c, t) "
            "join learning_events e on e.user_id = k.u and e.content_id = k.c and e.occurred_at <= k.t "
            "and not (e.id = any(cast(:ids as text[]))) group by k.u, k.c"
        ), {"u": firsts["user_id"].tolist(), "c": firsts["content_id"].tolist(),
            "t": [t.to_pydatetime() for t in firsts["occurred_at"]], "ids": tracked["id"].tolist()}).all(),
            columns=["user_id", "content_id", "prior"])
        tracked = tracked.merge(prior, on=["user_id", "content_id"], how="left")
        previous = tracked.groupby(["user_id", "content_id"])["progress"].shift(1)
        previous = previous.fillna(tracked["prior"]).fillna(0.0)
        deltas = pd.Series((tracked["progress"] - previous).clip(lower=0).round(2).to_numpy(), index=tracked["id"])
        deltas = deltas[~deltas.index.duplicated()]  # a statement an LRS returned twice
        return out.assign(progress_delta=out["id"].map(deltas).astype(float))

    def _write_rosters(self, mapped: Mapped) -> None:
        """Users, courses and content items of this batch (rosters from the LRS)."""
        actors = mapped.actors
        if not actors.empty:
            self.sinks["users"].write(_valid(pd.DataFrame({
                "id": _text(actors["id"]),
                "email": _text(actors["id"].str.replace(r"[^A-Za-z0-9._-]", "-", regex=True) + "@lrs.invalid"),
                "full_name": _text(actors["full_name"]), "avatar_url": None, "organization_id": None,
                "roles": [["learner"]] * len(actors), "created_at": actors["first_at"], "updated_at": actors["updated_at"],
            })))
        activities = mapped.activities
        course_ids = pd.concat([activities.loc[activities["is_course"], "id"], mapped.events["course_id"],
                                mapped.results["course_id"], mapped.enrollments["course_id"]]).dropna().unique()
        if len(course_ids):
            named = activities.set_index("id")
            courses = pd.DataFrame({"id": course_ids})
            courses["name"] = courses["id"].map(named["title"]).fillna(courses["id"])
            stamps = pd.concat([mapped.events[["course_id", "updated_at"]], mapped.results[["course_id", "updated_at"]],
                                mapped.enrollments[["course_id", "updated_at"]]]).groupby("course_id")["updated_at"].max()
            courses["updated_at"] = courses["id"].map(stamps).fillna(courses["id"].map(named["updated_at"]))
            self.sinks["courses"].write(_valid(courses.assign(
                description=None, organization_id=None, trainer_id=None, expected_weeks=pd.array([None] * len(courses), "Int64"),
                starts_at=pd.NaT, ends_at=pd.NaT, skills=[[] for _ in range(len(courses))], created_at=courses["updated_at"],
            ).astype({"id": object, "name": object})))
        content = activities[~activities["is_course"] & activities["course_id"].notna() & activities["content_type"].notna()]
        if not content.empty:
            self.sinks["content_items"].write(_valid(pd.DataFrame({
                "id": _text(content["id"]), "course_id": _text(content["course_id"]), "title": _text(content["title"]),
                "content_type": _text(content["content_type"]), "skill_ids": [[] for _ in range(len(content))],
                "duration_minutes": float("nan"), "due_at": pd.NaT, "weight": float("nan"), "updated_at": content["updated_at"],
            })))

    def finish(self) -> None:
        """Apply the run's voids; recompute the enrollments (rosters from the LRS)."""
        if self.voided:
            for table in ACTIVITY_TABLES:
                self.stats.voided += self.conn.execute(
                    sa.text(f"delete from {table} where id = any(cast(:ids as text[]))"), {"ids": self.voided}
                ).rowcount
        if self.rosters == "lrs" and self.signals:
            self.stats.enrollments_written = self._write_enrollments(pd.concat(self.signals, ignore_index=True))

    def _write_enrollments(self, signals: pd.DataFrame) -> int:
        """Enrollments of the (user, course) pairs signalled in this run, from the warehouse's events;
        only of learners still in ``users`` (one erased since the run wrote its rows has none; erased
        while the statement runs: it runs again without them, ``bulk.retrying_erased_learners``)."""
        if signals.empty:
            return 0
        self.conn.execute(sa.text(
            "create temp table xapi_signals (user_id text, course_id text, kind text, at timestamptz, "
            "updated_at timestamptz) on commit drop"))
        copy_frame(self.conn, "xapi_signals", signals[["user_id", "course_id", "kind", "at", "updated_at"]])
        written, self.stats.erased_learner_retries = retrying_erased_learners(
            self.conn, lambda: self.conn.execute(sa.text(ENROLLMENTS_SQL)).rowcount)
        return written


ENROLLMENTS_SQL = """
with pairs as (
  select user_id, course_id,
         min(at) filter (where kind in ('enrol', 'activity', 'completed')) as first_at,
         max(at) filter (where kind = 'enrol') as enrolled_again_at,
         max(at) filter (where kind = 'withdraw') as withdrawn_at,
         min(at) filter (where kind = 'completed') as completed_at,
         max(updated_at) as updated_at
  from xapi_signals s
  where exists (select 1 from users u where u.id = s.user_id)
  group by user_id, course_id
), activity as (
  select p.user_id, p.course_id, min(e.occurred_at) as first_event_at,
         least(100, coalesce(sum(e.progress_delta), 0)) as progress,
         max(e.occurred_at) filter (where e.event_type = 'completed') as last_completed_at
  from pairs p left join learning_events e on e.user_id = p.user_id and e.course_id = p.course_id
  group by p.user_id, p.course_id
), computed as (
  select p.user_id, p.course_id,
         least(p.first_at, a.first_event_at, p.withdrawn_at) as enrolled_at,
         coalesce(p.completed_at, case when a.progress >= 100 then a.last_completed_at end) as completed_at,
         case when p.withdrawn_at > coalesce(p.enrolled_again_at, '-infinity') then p.withdrawn_at end as withdrawn_at,
         a.progress, p.updated_at
  from pairs p join activity a using (user_id, course_id)
)
insert into enrollments as t (id, user_id, course_id, enrolled_at, completed_at, progress_percent, withdrawn_at,
                              status, updated_at)
select 'xapi:' || user_id || ':' || course_id, user_id, course_id, enrolled_at, completed_at, progress, withdrawn_at,
       case when completed_at is not null then 'completed' when withdrawn_at is not null then 'withdrawn' else 'active' end,
       updated_at
from computed where enrolled_at is not null
on conflict (user_id, course_id) do update set
  enrolled_at = least(t.enrolled_at, excluded.enrolled_at),
  completed_at = coalesce(t.completed_at, excluded.completed_at),
  withdrawn_at = excluded.withdrawn_at,
  progress_percent = excluded.progress_percent,
  status = case when coalesce(t.completed_at, excluded.completed_at) is not null then 'completed'
                when excluded.withdrawn_at is not null then 'withdrawn' else 'active' end,
  updated_at = greatest(t.updated_at, excluded.updated_at)
"""


def _batches(pages, batch_statements: int):
    group, count = [], 0
    for page in pages:
        group.append(page)
        count += len(page)
        if count >= batch_statements:
            yield group
            group, count = [], 0
    if group:
        yield group


def extract_statements(
    engine: Engine,
    client: XapiClient,
    run_id: str | None = None,
    rosters: str = "contract",
    platform_url: str = "",
    default_passing_score: float = 60.0,
    since_overlap_seconds: float = 0.0,
    full_refresh: bool = False,
    batch_statements: int = DEFAULT_BATCH_STATEMENTS,
    log: logging.Logger | None = None,
) -> XapiStats:
    """Read the LRS's statements stored after the watermark into the warehouse (one transaction)."""
    log = log or logging.getLogger(__name__)
    stats = XapiStats(RESOURCE, full_refresh=full_refresh)
    with engine.begin() as conn:
        watermarks = Watermarks(conn, RESOURCE)
        stats.watermark_before = watermarks.lock_and_read()
        since = None if full_refresh else stats.watermark_before
        asked = format_watermark(since - pd.Timedelta(seconds=since_overlap_seconds)) if since is not None else None
        log.info("reading statements from %s %s", client.base_url, f"since {asked}" if asked else "from the beginning")
        sink = XapiSink(conn, stats, run_id, rosters)
        latest = since
        for group in _batches(prefetched(client.pages(asked), PREFETCH_PAGES), batch_statements):
            statements = [s for page in group for s in page.statements]
            stats.pages += len(group)
            stats.bytes += sum(page.nbytes for page in group)
            mapped = map_statements(statements, platform_url, default_passing_score, after=since)
            stats.statements_before_watermark += mapped.already_loaded
            stats.rows_received += len(statements) - mapped.already_loaded
            if mapped.latest_stored is not None and (latest is None or mapped.latest_stored > latest):
                latest = mapped.latest_stored
            sink.write(mapped)
            log.info("statements pages %d-%d: %d statements (%d so far, %.1f s)", group[0].number, group[-1].number,
                     len(statements), stats.rows_received, stats.elapsed)
        sink.finish()
        stats.watermark_after = latest
        stats.quarantined_orphans = stats.unknown_actors
        stats.inserted = sum(t.inserted for t in stats.tables.values())
        stats.updated = sum(t.updated for t in stats.tables.values())
        stats.deleted = stats.voided
        watermarks.advance(stats.watermark_after, stats.rows_received - stats.quarantined, run_id)
    stats.finished = time.monotonic()
    stats.api_attempts, stats.api_retries = client.attempts, client.retries
    log.info("statements done: %d read in %d pages, %d quarantined, %d voided rows deleted, %d skipped, %.1f s",
             stats.rows_received, stats.pages, stats.quarantined, stats.voided, stats.skipped, stats.elapsed)
    return stats


def analyze_loaded_tables(engine: Engine, stats: XapiStats) -> list[str]:
    """After the extraction committed: the planner statistics of the tables it wrote brought up to
    date where the load changed a large share of them (bulk.analyze_if_stale, as the API loads)."""
    changed = {table: t.inserted + t.updated + t.deleted for table, t in stats.tables.items()}
    if stats.enrollments_written:
        changed["enrollments"] = changed.get("enrollments", 0) + stats.enrollments_written
    return analyze_if_stale(engine, changed)
