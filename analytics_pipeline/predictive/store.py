"""The predictive layer's store: which learners need a new cache row, stored models, COPY reads
of a learner set in hash-bucket chunks, each kind's run over the chunks (the pure layer computes)
and its write into ``predictive_analytics_cache`` (docs/predictive.md). No Dagster here.

A run works inside one connection with a temporary table ``pg_temp.predictive_learners``
(:func:`learner_set`): filled with the learners to compute (``learners_stale.sql``), the
drop-off training sample or every learner (``learners_all.sql``), and every chunked query of
``sql/queries/predictive/`` reads the learners of hash bucket ``i`` of ``n`` of that table
(``mod(abs(hashtext(user_id)::bigint), n) = i``, as ``analytics/store.py``), put into
``pg_temp.predictive_chunk`` and analyzed first (:meth:`LearnerSet.chunk`), so
a learner's rows of every input land in the same chunk and one chunk is in memory at a time.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.analytics import content_effectiveness as ce
from analytics_pipeline.analytics.common import active_learners
from analytics_pipeline.analytics.store import JIT_OFF, rollup_asof, rollup_stale_since
from analytics_pipeline.analytics.skill_gap import skill_gap_table
from analytics_pipeline.predictive.cache_rows import KINDS, CacheConfig, opted_out_users, to_cache_rows
from analytics_pipeline.governance.policy import RETENTION_POLICY
from analytics_pipeline.predictive.course_features import cell_events, cohort_means_of, cohort_parts
from analytics_pipeline.predictive.drop_off import OUTPUT_COLUMNS, DropOffConfig, score_raw, scoring_raw, train_drop_off
from analytics_pipeline.predictive.forecast import ForecastConfig, forecast_completion
from analytics_pipeline.predictive.recommendations import RecommendationConfig, recommend_next
from analytics_pipeline.warehouse.bulk import local_settings, read_copy, read_frame, replace_snapshot, sql_text
from analytics_pipeline.warehouse.models import ITEM_EFFECT_DTYPES, ITEM_EFFECTS, load_model, save_model

DEFAULT_CHUNK_LEARNERS = 20_000
# Per kind: which inputs besides learning events and enrollments make a cached row stale.
STALE_INPUTS = {
    "drop_off_risk": {"results": True, "skills": False, "catalog": False},
    "forecast": {"results": False, "skills": False, "catalog": False},
    "recommendations": {"results": False, "skills": True, "catalog": True},
}


def _bound(params: dict) -> dict:
    return {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in params.items()}


#: A line ``\\ir <file>.sql`` of a predictive query (psql's include, relative to its folder).
INCLUDE = re.compile(r"^\\ir (\S+)\.sql$", re.MULTILINE)


def predictive_sql(name: str) -> str:
    """The text of ``sql/queries/predictive/<name>.sql`` with each line ``\\ir <file>.sql``
    replaced by the text of that file of the folder (a part two queries share, written once)."""
    return INCLUDE.sub(lambda m: predictive_sql(m.group(1)).rstrip("\n"), sql_text(f"predictive/{name}.sql"))


def query(conn: Connection, name: str, **params) -> pd.DataFrame:
    """``sql/queries/predictive/<name>.sql`` through COPY (:func:`~.bulk.read_copy`)."""
    return read_copy(conn, predictive_sql(name), _bound(params))


def catalog(conn: Connection, name: str) -> pd.DataFrame:
    """A small catalog query (arrays/json as Python objects)."""
    return read_frame(conn, predictive_sql(name))


class LearnerSet:
    """The rows of ``pg_temp.predictive_learners`` and their chunks."""

    def __init__(self, conn: Connection, chunk_learners: int):
        self.conn, self.chunk_learners, self.count = conn, max(1, chunk_learners), 0

    def _fill(self, sql: str, params: dict) -> int:
        self.conn.execute(sa.text("truncate pg_temp.predictive_learners"))
        self.conn.execute(sa.text(predictive_sql(sql)), _bound(params))
        self.conn.execute(sa.text("analyze pg_temp.predictive_learners"))
        self.count = self.conn.execute(sa.text("select count(*) from pg_temp.predictive_learners")).scalar_one()
        return self.count

    def stale(self, kind: str, T: pd.Timestamp) -> int:
        """The learners active at T without a fresh cache row of ``kind`` (``learners_stale.sql``)."""
        return self._fill("learners_stale", {"kind": kind, "t": T, "pref_key": KINDS[kind], **STALE_INPUTS[kind]})

    def active(self, T: pd.Timestamp) -> int:
        """Every learner with an enrollment active at T (``learners_active.sql``), opted out or not."""
        return self._fill("learners_active", {"t": T})

    def enrolled(self, T: pd.Timestamp, sample_learners: int | None = None) -> int:
        """Every learner enrolled by T, or a hash sample of about ``sample_learners`` of them."""
        self._fill("learners_all", {"t": T, "n": 1})
        if sample_learners and self.count > sample_learners:
            self._fill("learners_all", {"t": T, "n": math.ceil(self.count / sample_learners)})
        return self.count

    def chunk(self, n: int, i: int) -> dict:
        """Fill ``pg_temp.predictive_chunk`` with the learners of hash bucket ``i`` of ``n``
        (analyzed: the chunked queries join it with its true size; the bucket predicate inside
        them was estimated at 0.5 % of the set, and the planner then probed the events' index
        once per learner, one heap page per event); ``{"n", "i"}``."""
        self.conn.execute(sa.text("truncate pg_temp.predictive_chunk"))
        self.conn.execute(sa.text(predictive_sql("chunk_fill")), {"n": n, "i": i})
        self.conn.execute(sa.text("analyze pg_temp.predictive_chunk"))
        return {"n": n, "i": i}

    def chunks(self) -> Iterator[dict]:
        """``{"n", "i"}`` for each chunk of about ``chunk_learners`` learners (none when empty),
        its learners in ``pg_temp.predictive_chunk`` (:meth:`chunk`) while it is processed."""
        n = max(1, math.ceil(self.count / self.chunk_learners))
        for i in range(n if self.count else 0):
            yield self.chunk(n, i)

    def ids(self) -> pd.Index:
        return pd.Index(read_frame(self.conn, "select user_id from pg_temp.predictive_learners")["user_id"],
                        dtype="str", name="user_id")


#: Drop-off's day cells (``dropout_rollup_cells.sql``) group every active learner's rollup rows of
#: the history: with the server's 4 MB the recent window's GROUP BY sorted ~280k rows on disk (text
#: keys) and the older days' hash aggregate spilled (M: 24 + 12 MB); in memory they are hash
#: aggregates (M: 35 + 14 MB; L ~4x), the statement 4.8-6.0 -> 2.6-3.8 s at M (docs/scaling.md,
#: branch pred4). Only this statement: the due items' first submissions lost their parallel plan.
CELLS_SETTINGS = {"work_mem": "128MB"}
#: The forecast's window (``forecast_window_events.sql``: 8 weeks, ~64 % of the events) read by a
#: sequential scan, not by the occurred_at index: the planner trusts the index's correlation
#: (0.9999) but the scan touched a heap page per row (M: 1.28M buffer hits for 1.49M rows of a
#: 45k-page table, 3.9-4.1 s against 1.6-2.4 s; as the rollup's first build, ``FIRST_BUILD_SETTINGS``).
WINDOW_SETTINGS = {"enable_indexscan": "off"}


@contextmanager
def learner_set(engine: Engine, chunk_learners: int = DEFAULT_CHUNK_LEARNERS) -> Iterator[LearnerSet]:
    """One connection (transaction) with an empty ``pg_temp.predictive_learners``, without JIT
    (``JIT_OFF``, for this transaction only): its statements are scans, hash joins and a few
    aggregates, which a compiled plan does not speed up, and at L's plan costs (~4x M's: past
    ``jit_optimize_above_cost`` / ``jit_inline_above_cost``) the compilation alone took 0.5-2 s
    per statement, in each parallel worker (docs/scaling.md, "Predictive next day without JIT")."""
    with engine.begin() as conn:
        conn.execute(sa.text(JIT_OFF))
        conn.execute(sa.text("create temp table predictive_learners (user_id text primary key) on commit drop"))
        conn.execute(sa.text("create temp table predictive_chunk (user_id text primary key) on commit drop"))
        yield LearnerSet(conn, chunk_learners)


# ═══════════════ the three kinds: read in chunks, compute (pure layer), write ═══════════════

TABLE = "predictive_analytics_cache"
TTL = pd.Timedelta(hours=CacheConfig().ttl_hours)  # the cache rows' lifetime, also the stored models'
# The content-effect evidence pairs a learner's events with their results: smaller chunks (memory).
RECOMMENDATION_CHUNK_LEARNERS = 10_000
# The recommendations themselves: each chunk's used items scan the events once (used_content.sql:
# a hash join over every event), so as few chunks as the memory allows (issue 18, docs/scaling.md).
RECOMMEND_CHUNK_LEARNERS = DEFAULT_CHUNK_LEARNERS
EFFECT_DTYPES = ITEM_EFFECT_DTYPES


@dataclass
class KindRun:
    """What one kind's computation produced: the stale learners' rows, the preferences now, and
    what the metadata reports (the model, whether it was reused, counters, timings)."""

    frame: pd.DataFrame
    preferences: pd.DataFrame
    model: dict = field(default_factory=dict)
    reused: bool = False
    counters: dict = field(default_factory=dict)


def chunk_frames(learners: LearnerSet, chunk: dict, T: pd.Timestamp, since: pd.Timestamp):
    """(events, enrollments, results) of one chunk of the learner set: enrollments not ended
    before ``since``, and every event/result since the earliest of them was enrolled."""
    enrollments = query(learners.conn, "dropout_enrollments", since=since, t=T, **chunk)
    first = pd.to_datetime(enrollments["enrolled_at"], utc=True).min() if len(enrollments) else T
    first = min(first, since) - pd.Timedelta(days=1)
    return (query(learners.conn, "dropout_events", since=first, t=T, **chunk), enrollments,
            query(learners.conn, "dropout_results", since=first, t=T, **chunk))


def rollup_floor(conn: Connection, T: pd.Timestamp) -> pd.Timestamp | None:
    """The instant from which the daily activity rollup holds every event known at ``T`` (its
    oldest day bin's start: the retention cutoff's day; the raw events before it are still there
    until retention runs, later in the nightly), or None when a step must read the raw events:
    ``T`` not a UTC midnight, the rollup not exact for ``T`` (a re-run of a past day, a backfill:
    its as-of is another instant), or a cell of a day it holds marked stale since its
    maintenance (cells before its oldest day are read raw anyway)."""
    if T != T.normalize():
        return None
    floor = pd.Timestamp(RETENTION_POLICY.activity_cutoff(T).date(), tz="UTC")
    if rollup_asof(conn, share=True) != T or rollup_stale_since(conn, floor):
        return None
    return floor


def drop_off_floor(conn: Connection, T: pd.Timestamp, since: pd.Timestamp, recent_days: float) -> pd.Timestamp | None:
    """:func:`rollup_floor` for drop-off's scoring pass: also None when its recent window is not
    whole days or its history (``since``) does not begin before the rollup's oldest day."""
    if not float(recent_days).is_integer():
        return None
    floor = rollup_floor(conn, T)
    return floor if floor is not None and since < floor - pd.Timedelta(days=1) else None


def rollup_cells(conn: Connection, T: pd.Timestamp, floor: pd.Timestamp, recent_days: int) -> None:
    """Once for every chunk of the learner set: its day cells (``pg_temp.predictive_cells``,
    ``dropout_rollup_cells.sql``; the bins before the recent window summed per course) and its due
    items' first submissions (``pg_temp.predictive_due_firsts``) and the results of its active
    enrollments' courses (``pg_temp.predictive_results``): one scan of the rollup, of the events and
    of the results, whatever the number of chunks."""
    recent = max(floor, T - pd.Timedelta(days=recent_days))  # the recent window's first day bin
    with local_settings(conn, CELLS_SETTINGS):
        conn.execute(sa.text(predictive_sql("dropout_rollup_cells")),
                     {"floor": floor.date(), "recent": recent.date(), "day": T.date()})
    conn.execute(sa.text(predictive_sql("dropout_due_firsts")), _bound({"floor_at": floor, "t": T}))
    conn.execute(sa.text(predictive_sql("dropout_active_results")), _bound({"t": T}))


def rollup_chunk_frames(learners: LearnerSet, chunk: dict, T: pd.Timestamp, since: pd.Timestamp,
                        floor: pd.Timestamp):
    """:func:`chunk_frames` of the scoring pass with the events as day cells (rollup_floor):
    the raw events before ``floor``, the rollup's cells from it to ``T`` and the due items' first
    submissions (:func:`rollup_cells`, filled for the learner set first); the results of the courses of
    the learner's enrollments active at ``T`` only (``pg_temp.predictive_results``): the same
    features at ``T`` (course_features.py, "Day cells"), without reading every event of every
    active learner."""
    enrollments = query(learners.conn, "dropout_enrollments", since=since, t=T, **chunk)
    first = pd.to_datetime(enrollments["enrolled_at"], utc=True).min() if len(enrollments) else T
    first = min(first, since) - pd.Timedelta(days=1)
    old = query(learners.conn, "dropout_old_events", since=first, floor_at=floor, t=T, **chunk)
    cells = query(learners.conn, "dropout_cells_chunk", **chunk)
    due = query(learners.conn, "dropout_due_firsts_chunk", **chunk)
    parts = [old.assign(n=1), cell_events(cells), due.assign(n=0)]
    events = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else old.assign(n=1)
    return (events, enrollments, query(learners.conn, "dropout_results_chunk", since=first, **chunk))


def concat(frames: list[pd.DataFrame], columns=("user_id", "data", "confidence_score")) -> pd.DataFrame:
    """The chunks' rows (no chunk: no learner to recompute, an empty frame)."""
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({c: pd.Series([], dtype="str" if c == "user_id" else float if c in ("probability", "confidence_score") else object)
                         for c in columns})


def drop_off_run(engine: Engine, T: pd.Timestamp, cfg: DropOffConfig, history_days: int,
                 training_learners: int, chunk_learners: int = DEFAULT_CHUNK_LEARNERS,
                 rollup: bool = True) -> KindRun:
    """Train (or reuse the stored model valid at T) and score the stale active learners.

    One pass over every active learner in chunks: each chunk's raw features give the cohort
    parts (every active enrollment is in some learner's cohort), and the stale learners' raw
    features are kept; once every chunk is summed, the kept rows are finished with the cohorts'
    means and scored (``score_raw``), the same values as reading the stale learners again.

    The pass reads the raw events (``dropout_events.sql``, issue 18): the event cells summed in
    the database (one row per learner, course, item and UTC day) were 10 % fewer rows than the
    events but their GROUP BY sorted every event of the chunk on disk (text keys, work_mem):
    on the M copy the cells' read took 31 s, the events' 8 s, same scores (docs/scaling.md).
    With ``rollup`` (the default) the scoring pass reads the daily activity rollup instead when it
    is exact for ``T`` (:func:`drop_off_floor`); ``rollup=False`` always reads the raw events."""
    since = T - pd.Timedelta(days=history_days)
    with learner_set(engine, chunk_learners) as learners:
        started = time.perf_counter()
        courses, content = catalog(learners.conn, "courses"), catalog(learners.conn, "content_items")
        model = load_model(learners.conn, "drop_off_risk", T)
        reused = model is not None
        if not reused:
            learners.enrolled(T, training_learners)
            model = {**train_drop_off(*chunk_frames(learners, learners.chunk(1, 0), T, since), courses, content, T, cfg),
                     "training_learners": learners.count}
        trained = time.perf_counter()
        learners.stale("drop_off_risk", T)
        stale = learners.ids() if learners.count else pd.Index([], dtype="str")
        floor = drop_off_floor(learners.conn, T, since, cfg.features.recent_days) if rollup and len(stale) else None
        if len(stale):  # nobody to score: no cohort to read
            learners.active(T)
        if floor is not None:
            rollup_cells(learners.conn, T, floor, cfg.features.recent_days)
        parts, kept = [], []
        for chunk in learners.chunks():
            frames = (chunk_frames(learners, chunk, T, since) if floor is None
                      else rollup_chunk_frames(learners, chunk, T, since, floor))
            rows, raw = scoring_raw(*frames, courses, content, T, cfg)
            parts.append(cohort_parts(raw))
            mine = rows["user_id"].isin(stale).to_numpy(dtype=bool)
            if mine.any():
                kept.append((rows.loc[mine].reset_index(drop=True), raw.loc[mine].reset_index(drop=True)))
        means = cohort_means_of(parts) if parts else None
        frames = [score_raw(model, rows, raw, means, cfg) for rows, raw in kept]
        preferences = query(learners.conn, "preferences")
        scored = time.perf_counter()
    if not reused:
        save_model(engine, "drop_off_risk", T, model, TTL)
    return KindRun(concat(frames, OUTPUT_COLUMNS), preferences, model, reused,
                   {"train_seconds": round(trained - started, 2), "score_seconds": round(scored - trained, 2),
                    "active_learners_read": learners.count, "events_from_rollup": floor is not None})


def forecast_run(engine: Engine, T: pd.Timestamp, cfg: ForecastConfig, rollup: bool = True) -> KindRun:
    """Completion forecasts of the stale active learners. The carry-over row of the events before
    the window (``events.sql``) is summed from the daily activity rollup's cells when it is exact
    for ``T`` (:func:`rollup_floor`; ``events_rollup.sql``: the same exact sum and last event);
    ``rollup=False`` always reads the raw events."""
    with learner_set(engine) as learners:
        courses = catalog(learners.conn, "courses")
        learners.stale("forecast", T)
        since = T - pd.Timedelta(weeks=cfg.weeks)
        floor = rollup_floor(learners.conn, T) if rollup and learners.count else None
        if floor is not None and since < floor:
            floor = None
        frames = [forecast_completion(forecast_events(learners.conn, chunk, T, since, floor),
                                      query(learners.conn, "enrollments", since=T, t=T, **chunk), T, cfg, courses)
                  for chunk in learners.chunks()]
        preferences = query(learners.conn, "preferences")
    return KindRun(concat(frames), preferences, counters={"events_from_rollup": floor is not None})


def forecast_events(conn: Connection, chunk: dict, T: pd.Timestamp, since: pd.Timestamp,
                    floor: pd.Timestamp | None) -> pd.DataFrame:
    """The chunk's events of the forecast window and one carry-over row per (learner, course) for
    the events before it: ``events.sql``, or with ``floor`` (:func:`rollup_floor`) ``events_rollup.sql``."""
    with local_settings(conn, WINDOW_SETTINGS):
        if floor is None:
            events = query(conn, "events", since=since, t=T, **chunk)
        else:
            events = query(conn, "events_rollup", since=since, since_day=since.date(), floor=floor.date(),
                           floor_at=floor, t=T, **chunk)
    return window_order(events, since)


def window_order(events: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """The forecast's events in one order, whatever the plan read them in: the window's by
    ``occurred_at`` (a tie by ``progress_delta``, then ``duration_seconds``), then the carry-over
    rows (as the UNION ALL returns them). The pure layer's float sums (weekly pace, progress) add a
    group's events in row order, and a sum on a rounding boundary (x.xx5) can round either way in
    another order: with the window read by a sequential scan instead of the occurred_at index
    (``WINDOW_SETTINGS``; a synchronized scan may start mid-table), 7 of 3,809 learners' paces at M
    moved by 0.01 without this (docs/scaling.md, branch pred4). The index's order is this one but
    for the ties (13 groups at M with two deltas at one instant; the same rows as main there)."""
    if events.empty:
        return events
    at = pd.to_datetime(events["occurred_at"], utc=True)
    order = np.lexsort((events["duration_seconds"].to_numpy(dtype=float), events["progress_delta"].to_numpy(dtype=float),
                        at.to_numpy(dtype="datetime64[us]").view("int64"), (at <= since).to_numpy()))
    return events.iloc[order].reset_index(drop=True)


def recommendations_run(engine: Engine, T: pd.Timestamp, rc: RecommendationConfig,
                        chunk_learners: int = RECOMMEND_CHUNK_LEARNERS) -> KindRun:
    """Recommendations of the stale active learners from their skill gaps and the item effects
    (measured once per cache lifetime and stored as the kind's model)."""
    with learner_set(engine, RECOMMENDATION_CHUNK_LEARNERS) as learners:
        conn = learners.conn
        items, course_skills, skills = (catalog(conn, n) for n in ("content_items", "course_skills", "skills"))
        model = load_model(conn, "recommendations", T)
        reused = model is not None
        if not reused:
            model = {"effects": measured_item_effects(conn, T), "effects_source": "content_effectiveness_analytics"}
            if model["effects"] is None:
                model = {"effects": item_effects_by_chunk(learners, items, T).to_dict("list"),
                         "effects_source": "measured here"}
        effects = typed_effects(pd.DataFrame(model["effects"], columns=list(EFFECT_DTYPES)))
        learners.chunk_learners = chunk_learners
        learners.stale("recommendations", T)
        frames, with_gaps = [], 0
        for chunk in learners.chunks():
            enrollments = query(conn, "enrollments", since=T, t=T, **chunk)
            gaps = skill_gap_table(enrollments, course_skills, query(conn, "user_skills", t=T, **chunk), skills, T)
            active_ids = active_learners(enrollments, T)
            active = enrollments.loc[enrollments["user_id"].isin(active_ids), ["user_id", "course_id"]]
            frames.append(recommend_next(gaps, effects, items, query(conn, "used_content", t=T, **chunk),
                                         learner_courses=active, skills=skills, config=rc, learners=active_ids))
            with_gaps += int(gaps["user_id"].nunique())
        preferences = query(conn, "preferences")
    if not reused:
        save_model(engine, "recommendations", T, model, TTL)
    return KindRun(concat(frames), preferences, model, reused,
                   {"measured_item_effects": len(effects), "learners_with_gaps": with_gaps,
                    "item_effects_source": model.get("effects_source", "measured here")})


def measured_item_effects(conn: Connection, T: pd.Timestamp) -> dict | None:
    """The item effects content effectiveness measured at exactly T (the same nightly run: its
    asset runs before the recommendations), as stored columns; None when there are none."""
    stored = load_model(conn, ITEM_EFFECTS, T)
    if stored is None or pd.Timestamp(stored["trained_at"]) != T:
        return None
    return stored["effects"]


def item_effects_by_chunk(learners: LearnerSet, items: pd.DataFrame, T: pd.Timestamp) -> pd.DataFrame:
    """Content-effectiveness item effects (``item_effects``) over every learner, in chunks:
    additive evidence parts per chunk, summed, then turned into effects once."""
    cfg = ce.ContentEffectivenessConfig()
    learners.enrolled(T)
    parts = []
    for chunk in learners.chunks():
        events = query(learners.conn, "content_events", since=T - pd.Timedelta(days=cfg.lookback_days + cfg.effect_window_days),
                       t=T, **chunk)
        results = query(learners.conn, "assessment_results", since=T - pd.Timedelta(days=cfg.lookback_days), t=T, **chunk)
        parts.append(ce.effect_parts_of(items, events, results, T, cfg, keys=("content_id",))["content_id"])
    if not parts:
        return typed_effects(pd.DataFrame(columns=list(EFFECT_DTYPES)))
    return typed_effects(ce.effects_from_parts(*ce.combine_effect_parts(parts), "content_id", cfg))


def typed_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """Item effects with fixed dtypes: a stored model without effects (a platform without skills or
    results) reloads as empty float columns, which pandas refuses to merge with string skill ids."""
    return effects[list(EFFECT_DTYPES)].astype(EFFECT_DTYPES)


def write_kind(engine: Engine, kind: str, run: KindRun, T: pd.Timestamp, run_id: str | None = None) -> dict:
    """Replace the cache rows of ``kind`` in one transaction: every row of the kind of the learners
    being written (their older snapshots) and of the learners whose preferences turn the kind off
    is deleted, then the new rows are COPYed; fresh rows stay. Returns the counts and the rows."""
    rows = to_cache_rows(kind, run.frame, T, run.preferences)
    opted_out = opted_out_users(kind, run.preferences)
    with replace_snapshot(engine, TABLE, T, json_columns=["data"], scope={"analytics_type": kind},
                          delete_existing=False, run_id=run_id) as writer:
        replaced = writer.delete_users(rows["user_id"])
        removed = writer.delete_users(opted_out)
        writer.write(rows)
    return {"rows": rows, "row_count": writer.rows, "rows_quarantined": writer.quarantined, "rows_dropped_erased": writer.dropped_erased,
            "opted_out_learners": len(opted_out), "opted_out_rows_removed": removed, "older_rows_replaced": replaced}
