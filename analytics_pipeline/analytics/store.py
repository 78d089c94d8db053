"""One as-of snapshot of a learner-analytics table: read by chunks, compute, validate, COPY.

No Dagster here (the assets in ``assets/learner_analytics.py`` and the measurement script
``bench/analytics_steps.py`` both call :func:`run_snapshot`).

Reading: set-based SQL files ``sql/queries/learner_analytics/*.sql`` (chunks through
``bulk.read_copy``: COPY to Arrow, typed by the query's description; the big reads of committed
tables through ``bulk.ArrowReader``: ADBC's binary COPY on a second connection that imports the
snapshot's, every chunk read but the carry path's, which join a temporary table), only the columns and
the time window each category needs, and only rows **known at T**: events with
``occurred_at <= T`` and ``updated_at <= T`` (``updated_at`` is when the platform ingested
the event, so a late-arriving event counts from the first snapshot after its arrival and a
re-run of T gives the same values), results with ``submitted_at <= T`` and
``updated_at <= T``, and of both only those still **retained at T**: ``occurred_at`` /
``submitted_at >= :kept = T - 90 d`` (``RETENTION_POLICY.activity_cutoff``; the nightly's
``retention`` asset deletes older activity logs at T after the snapshots, so without this
bound a re-run of T, or an in-database check of the warehouse the run leaves, would differ:
e.g. engagement's last activity, which looks back without a window), skill levels last assessed at or before T, enrollments active at T by
their timestamps. Velocity's progress at T is rewound in SQL by the deltas of the events not
known at T.

Bounded memory: learners are split into ``n = ceil(users / chunk_learners)`` hash buckets
(``mod(abs(hashtext(user_id)::bigint), n) = i``; every query of a chunk uses the same
predicate, so a learner's rows always land in the same chunk). The small catalogs (courses,
course skills, skills, content items) are read once. Each chunk is computed by the pure
function, validated by its quality suite (``quality.validation``) and COPYed; only one
chunk's inputs and rows are in memory at a time.

Content effectiveness needs a cross-learner table first: the item and type effects. Their
evidence pairs join a learner's events with the same learner's results, so a first pass over
the chunks computes additive partial sums per (item or type, skill)
(``content_effectiveness.effect_parts_of``: small, items x skills), which are summed and
turned into effects once (``effect_tables``); the second pass computes the learner rows per
chunk with these effects (``precomputed_effects``). Memory is one chunk's evidence plus the
effect tables. Once the snapshot has committed, the item effects are stored
(``predictive_models``, kind ``item_effects``, ``warehouse.models``): the recommendations of the
same T reuse them instead of measuring them again.

Carry-forward (issue 18): mastery, skill gap and performance depend on T only through data
crossing T. When the snapshot of ``T' = T - 1 day`` of the category is complete and comparable
(its record in ``analytics_snapshot_runs``, written in its own transaction: same config and
code fingerprint, same catalogs, and its rows still there), only the **dirty** learners are
read and computed (``carry_dirty_*.sql``: user skills and results updated after T', timestamps
crossing (T', T], results leaving the window, and, logged by ``learner_input_changes``
(migration 0013) with the transaction that made them, rows deleted and enrollments inserted or
changed in what makes them active that the T' run did not see), and the other learners' rows of T' are copied to T in one
``INSERT ... SELECT`` (``carry_copy.sql``: calculated_at = T, expires_at = T + ttl) in the same
transaction. Anything else (no T' record, another fingerprint, a catalog changed, rows gone)
runs the full computation; ``SnapshotReport.path`` / ``fallback`` say which ran and why.
The quality suite checks the recomputed rows; the carried rows are the rows the suite passed
when first written, under the same fingerprint (which covers the suite's code): not checked again.

Writing: one transaction (``replace_snapshot``): partition ensured, the snapshot of T
deleted, every chunk COPYed; a quality failure or any error in any chunk rolls the whole
snapshot back, so a re-run never duplicates and a reader never sees half a snapshot.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.analytics import CATEGORIES, CONFIGS, INPUTS, AnalyticsInputs, compute
from analytics_pipeline.analytics import content_effectiveness as ce
from analytics_pipeline.analytics.common import utc
from analytics_pipeline.governance.policy import RETENTION_POLICY
from analytics_pipeline.quality.validation import ValidationOutcome, validate
from analytics_pipeline.settings import CHANGE_LOG_DAYS, PROJECT_ROOT
from analytics_pipeline.warehouse.bulk import (ArrowReader, SnapshotWriter, indexes_rebuilt_after,
                                               read_arrow, read_copy, read_frame, replace_snapshot,
                                               retrying_erased_learners, sql_text)
from analytics_pipeline.warehouse.models import (ITEM_EFFECT_DTYPES, ITEM_EFFECTS, TYPE_EFFECT_DTYPES,
                                                  save_model)

QUERIES = "learner_analytics"
DEFAULT_CHUNK_LEARNERS = 20_000
#: The stored item effects are kept as long as a predictive cache row.
ITEM_EFFECTS_TTL_HOURS = 48

# Catalogs read once per run (not chunked): input name -> SQL file.
CATALOGS = {"courses": "courses.sql", "course_skills": "course_skills.sql",
            "skills": "skills.sql", "content_items": "content_items.sql"}


@dataclass(frozen=True)
class Read:
    """A chunked input: SQL file and its look-back in days (from the category's config)."""
    sql: str
    days: Callable[[object], float] | None = None
    #: rollup reads: the width in days of the bins of days the read sums cells over (``:bin``,
    #: counted back from T); it must divide every window boundary the category tests
    bin_days: Callable[[object], int] | None = None


# Per category: chunked input name -> Read (catalog inputs come from CATALOGS).
READS: dict[str, dict[str, Read]] = {
    "velocity": {"enrollments": Read("velocity_enrollments.sql"),
                 "learning_events": Read("velocity_events.sql", lambda c: c.window_days)},
    "skill_gap": {"enrollments": Read("enrollments.sql"), "user_skills": Read("user_skills.sql")},
    "engagement": {"enrollments": Read("enrollments.sql"),
                   "learning_events": Read("engagement_events.sql", lambda c: 7 * c.trend_weeks)},
    "mastery": {"user_skills": Read("user_skills.sql"), "enrollments": Read("enrollments.sql")},
    "performance": {"assessment_results": Read("performance_results.sql",
                                               lambda c: c.window_days),
                    "enrollments": Read("enrollments.sql")},
    # its learning events come from the evidence pass (EFFECT_READS: ce.latest_use)
    "content_effectiveness": {"enrollments": Read("enrollments.sql"),
                              "user_skills": Read("user_skills.sql")},
}
# Issue 18: the chunked reads a category takes from the learner daily activity rollup instead
# of the raw events when the rollup is exact for T (``reads_for``), and the config fields (in
# days) that must be whole for its day bins to match the category's windows.
ROLLUP_READS: dict[str, dict[str, Read]] = {
    "velocity": {"learning_events": Read("velocity_rollup_events.sql", lambda c: c.window_days,
                                         lambda c: _gcd_days(c, ROLLUP_DAY_FIELDS["velocity"]))},
    "engagement": {"learning_events": Read("engagement_rollup_events.sql", lambda c: 7 * c.trend_weeks),
                   "session_parts": Read("engagement_rollup_sessions.sql", lambda c: 7 * c.trend_weeks)},
}


def _gcd_days(cfg, fields: tuple[str, ...]) -> int:
    """The greatest common divisor of the config's day ``fields`` (whole days when the rollup is
    read: ``rollup_exact_for``): the widest bins of days no window boundary cuts."""
    return math.gcd(*(int(float(getattr(cfg, f))) for f in fields))


#: The column of a grouped read (``ROLLUP_READS``) that says which chunk a row belongs to.
CHUNK_COLUMN = "chunk"
#: Learners whose rollup rows one scan reads (``GroupedReads``): ``max(1, this // chunk_learners)``
#: chunks per scan. The rollup's rows are compact (engagement at 100,000 learners: ~3M event
#: cells and ~2M session parts of 8 weeks), so the L platform is read in one scan.
ROLLUP_READ_LEARNERS = 200_000
ROLLUP_DAY_FIELDS: dict[str, tuple[str, ...]] = {
    "velocity": ("window_days", "trend_half_days", "inactive_days_at_risk"),
    "engagement": ("window_days", "trend_weeks"),
}
# The config field (minutes) of the session gap of a category that reads the rollup's session
# parts: it must be the gap they were cut with (learner_daily_activity_asof.session_gap).
ROLLUP_SESSION_GAP: dict[str, str] = {"engagement": "session_gap_minutes"}
# First pass of content effectiveness: the evidence of the effects, and (the same events: the
# retained ones, T - 90 d .. T, cover the evidence's 90 + 14 d) each learner's latest use of
# each item, kept for the second pass (``ce.latest_use``: one read of the events, not two).
EFFECT_READS: dict[str, Read] = {
    "assessment_results": Read("effect_results.sql", lambda c: c.lookback_days),
    "learning_events": Read("effect_events.sql"),
}
# Issue 18: the evidence's events from the rollup's item cells (learner_daily_item_use) when they
# are exact for T (``effect_reads_for``; ``evidence_frames`` turns a cell into at most four
# events): the same answers, one row per learner, item and day instead of every raw event of
# 104 days.
EFFECT_ROLLUP_READS: dict[str, Read] = {"learning_events": Read("effect_rollup_events.sql")}
#: Learners whose evidence rows (``EFFECT_READS``) one scan reads (``GroupedReads``):
#: ``max(1, this // chunk_learners)`` chunks per scan (issue 18: each chunk scanned the whole
#: events table again). Memory: the raw retained events and results of this many learners
#: at a time (at 20,000 learners per chunk: 2 chunks per scan, the M platform in one).
EFFECT_READ_LEARNERS = 40_000
# Raw tables each category reads (lineage metadata).
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "velocity": ("enrollments", "courses", "learning_events", "learner_daily_activity"),
    "skill_gap": ("enrollments", "course_skills", "user_skills", "skills"),
    "engagement": ("enrollments", "learning_events", "learner_activity_summary",
                   "learner_daily_activity"),
    "mastery": ("user_skills", "skills", "enrollments"),
    "performance": ("assessment_results", "users", "enrollments", "skills"),
    "content_effectiveness": ("enrollments", "content_items", "learning_events",
                              "learner_daily_item_use", "assessment_results", "course_skills",
                              "user_skills", "skills"),
}
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "velocity": (),
    "skill_gap": ("gaps", "top_priority"),
    "engagement": ("engagement_by_type", "weekly_trend"),
    "mastery": ("skills", "mastery_distribution"),
    "performance": ("performance_by_skill", "recent_scores"),
    "content_effectiveness": ("most_effective", "least_effective", "recommendations"),
}

_DECILES = [f"{lo}-{lo + 9}" for lo in range(0, 90, 10)] + ["90-100"]


def _deciles(s: pd.Series) -> pd.Series:
    bins = np.minimum(np.asarray(s, dtype=float) // 10, 9).astype(int)
    return pd.Series(np.bincount(bins, minlength=10)[:10], index=_DECILES)


# Per category: the distribution of its categorical outcome (counts, summed over chunks).
DISTRIBUTIONS: dict[str, tuple[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "velocity": ("status counts", lambda df: df["status"].value_counts()),
    "skill_gap": ("learners by number of critical gaps",
                  lambda df: df["critical_gaps"].value_counts()),
    "engagement": ("overall_score deciles", lambda df: _deciles(df["overall_score"])),
    "mastery": ("learners by number of mastered skills",
                lambda df: df["mastered_skills"].value_counts()),
    "performance": ("trend counts", lambda df: df["trend"].value_counts()),
    "content_effectiveness": (
        "learners with / without a most-effective entry",
        lambda df: df["most_effective"].map(len).gt(0).map(
            {True: "with_most_effective", False: "without_most_effective"}).value_counts()),
}


# Carry-forward: categories whose values depend on T only through data crossing T, with the
# dirty-learner queries of their inputs (union), and the column of their distribution.
CARRY_DIRTY: dict[str, tuple[str, ...]] = {
    "mastery": ("carry_dirty_user_skills.sql", "carry_dirty_enrollments.sql"),
    "skill_gap": ("carry_dirty_user_skills.sql", "carry_dirty_enrollments.sql"),
    "performance": ("carry_dirty_results.sql", "carry_dirty_enrollments.sql"),
}
DISTRIBUTION_COLUMN = {"mastery": "mastered_skills", "skill_gap": "critical_gaps",
                       "performance": "trend"}
CARRY_DAY = pd.Timedelta(days=1)
#: bump when the meaning of a stored row changes in a way the hashed files do not show
CARRY_FORMAT = "1"


class QualityError(RuntimeError):
    """The suite's critical expectations failed: nothing was written (rolled back)."""

    def __init__(self, outcome: ValidationOutcome, chunk: int):
        self.outcome, self.chunk = outcome, chunk
        super().__init__(f"data quality suite {outcome.suite!r} failed on chunk {chunk}: "
                         f"{outcome.describe()}. The snapshot was not written.")


@dataclass
class SnapshotReport:
    name: str
    table: str
    T: pd.Timestamp
    rows: int = 0
    chunks: int = 0
    learners_bound: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {
        "read": 0.0, "effects": 0.0, "compute": 0.0, "validate": 0.0, "write": 0.0})
    elapsed: float = 0.0
    quality: ValidationOutcome | None = None
    preview: pd.DataFrame | None = None
    distribution: pd.Series | None = None
    chunk_rows: list[int] = field(default_factory=list)
    quarantined: int = 0  # learner rows the table cannot hold (bulk.SnapshotWriter), in the quarantine
    dropped_erased: int = 0  # learner rows not written: the learner was erased meanwhile (bulk.SnapshotWriter)
    erased_learner_retries: int = 0  # carry-forward copies run again: a learner was erased meanwhile
    path: str = "full"  # "carry": the rows of T - 1 day copied for the learners not recomputed
    fallback: str | None = None  # why a carry-forward category ran the full computation
    learners_recomputed: int = 0
    learners_carried: int = 0
    rollup: bool = False  # read the learner daily activity rollup instead of the raw events
    rollup_scans: int = 0  # statements that read the rollup's tables (GroupedReads: one per group)
    effect_scans: int = 0  # statements that read content effectiveness' evidence (GroupedReads)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0


def category_config(name: str, ttl: pd.Timedelta | None = None,
                    overrides: dict[str, float] | None = None):
    """The category's pure ``...Config`` with ``ttl`` and field ``overrides`` applied."""
    base = CONFIGS[name]()
    changes: dict[str, object] = {}
    for key, value in (overrides or {}).items():
        if not hasattr(base, key) or key == "ttl":
            raise ValueError(f"{CONFIGS[name].__name__} has no setting {key!r}")
        current = getattr(base, key)
        changes[key] = type(current)(value) if isinstance(current, (int, float)) else value
    if ttl is not None:
        changes["ttl"] = pd.Timedelta(ttl)
    return dataclasses.replace(base, **changes)


def _params(T: pd.Timestamp, cfg, read: Read, n: int, i: int, j: int | None = None) -> dict:
    params = {"t": T.to_pydatetime(), "n": n, "i": i, "j": i if j is None else j,
              "kept": RETENTION_POLICY.activity_cutoff(T).to_pydatetime()}
    if read.days is not None:
        params["since"] = (T - pd.Timedelta(days=float(read.days(cfg)))).to_pydatetime()
    if read.bin_days is not None:
        params["bin"] = int(read.bin_days(cfg))
    return params


def _sql(r: Read) -> str:
    if isinstance(r.sql, tuple):  # (wrapper, query): the query limited to carry_dirty
        wrapper, inner = r.sql
        return sql_text(f"{QUERIES}/{wrapper}").format(query=sql_text(f"{QUERIES}/{inner}"))
    return sql_text(f"{QUERIES}/{r.sql}")


#: a chunk read: (sql, params) -> rows (``read_copy`` on the snapshot's connection, or its ``ArrowReader``)
Reader = Callable[[str, dict], pd.DataFrame]


def _read(conn: Connection, reads: dict[str, Read], T, cfg, n: int, i: int, read: Reader | None = None) -> dict:
    read = read or (lambda sql, params: read_copy(conn, sql, params))
    return {name: _without_chunk(read(_sql(r), _params(T, cfg, r, n, i))) for name, r in reads.items()}


def _without_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """A read's rows without the column ``chunk`` of the reads that serve several chunks."""
    return frame.drop(columns=CHUNK_COLUMN) if CHUNK_COLUMN in frame.columns else frame


class GroupedReads:
    """The reads of ``reads`` (``ROLLUP_READS``, ``EFFECT_READS``: their SQL takes the chunks ``:i`` to ``:j`` and
    returns each row's chunk in the column ``chunk``) for chunks ``0 .. n - 1``, one scan per
    ``per_read`` chunks instead of one per chunk (issue 18: the rollup's tables were scanned
    again for each chunk), split by chunk in memory: :meth:`take` gives chunk ``i``'s rows as
    :func:`_read` of that chunk alone would (same columns and dtypes; no rows: object columns,
    as ``read_copy``). Memory: the rows of ``per_read`` chunks of these reads at a time (the
    rollup's compact rows, not the raw events).

    ``read``: how a scan is read (default :func:`~.bulk.read_arrow`, ADBC on a connection of its
    own that imports ``conn``'s snapshot: these reads' tables are committed ones, never a
    temporary table nor one the transaction wrote; ``run_snapshot`` passes its :class:`ArrowReader`)."""

    def __init__(self, conn: Connection, reads: dict[str, Read], T, cfg, n: int, per_read: int,
                 read: Reader | None = None):
        self.conn, self.reads, self.T, self.cfg, self.n = conn, reads, T, cfg, n
        self.read = read or (lambda sql, params: read_arrow(conn, sql, params))
        self.per_read = max(1, int(per_read))
        self._first = self._last = -1
        self._frames: dict[str, pd.DataFrame] = {}
        self._rows: dict[str, dict[int, np.ndarray]] = {}
        self.scans = 0  # statements issued: one per read and group of chunks

    def _load(self, i: int) -> None:
        self._frames = self._rows = {}  # the previous group's rows go first
        self._first = i - i % self.per_read
        self._last = min(self.n, self._first + self.per_read) - 1
        frames, rows = {}, {}
        for name, r in self.reads.items():
            frame = self.read(_sql(r), _params(self.T, self.cfg, r, self.n, self._first, self._last))
            self.scans += 1
            if CHUNK_COLUMN in frame.columns and len(frame):
                rows[name] = frame.groupby(CHUNK_COLUMN, sort=False).indices
                frame = frame.drop(columns=CHUNK_COLUMN)
            else:
                rows[name] = {}
                frame = _without_chunk(frame)
            frames[name] = frame
        self._frames, self._rows = frames, rows

    def take(self, i: int) -> dict[str, pd.DataFrame]:
        """Chunk ``i``'s rows of each read (chunks are taken in order)."""
        if not self._first <= i <= self._last:
            self._load(i)
        out = {}
        for name, frame in self._frames.items():
            positions = self._rows[name].get(i)
            if positions is None or not len(positions):  # as read_copy of no rows
                out[name] = pd.DataFrame({c: pd.Series([], dtype=object) for c in frame.columns})
            else:
                out[name] = frame.take(positions).reset_index(drop=True)
        if i == self._last:
            self._frames, self._rows = {}, {}
        return out


def config_fingerprint(name: str, cfg, check_quality: bool = True) -> str:
    """Hash of the category's config (but ``ttl``: the copy stamps its own expiry) and of the
    code that makes and checks a row: the pure module, ``common``, the SQL reads, the quality
    suite and whether it ran (rows written unchecked are never carried into a checked
    snapshot), this store's :data:`CARRY_FORMAT`."""
    h = hashlib.sha256(f"{name}|{CARRY_FORMAT}|{bool(check_quality)}|".encode())
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "ttl"}
    h.update(repr(sorted(fields.items())).encode())
    pkg = PROJECT_ROOT / "analytics_pipeline"
    files = [pkg / "analytics" / f"{name}.py", pkg / "analytics" / "common.py",
             pkg / "analytics" / "__init__.py", pkg / "quality" / "suites.py",
             pkg / "quality" / "validation.py"]
    queries = pkg.parent / "sql" / "queries" / QUERIES
    files += [queries / r.sql for r in READS[name].values()]
    if name == "content_effectiveness":
        files += [queries / r.sql for r in (*EFFECT_READS.values(), *EFFECT_ROLLUP_READS.values())]
    files += [queries / sql for k, sql in CATALOGS.items() if k in INPUTS[name]]
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def catalog_fingerprint(catalogs: dict[str, pd.DataFrame]) -> str:
    """Hash of the catalog frames as read (order-independent)."""
    h = hashlib.sha256()
    for key in sorted(catalogs):
        frame = catalogs[key].astype(str)  # lists (content item skills) as text: sortable
        frame = frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame
        h.update(key.encode() + b"\0" + ",".join(map(str, frame.columns)).encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _current_snapshot(conn: Connection) -> str:
    return str(conn.execute(sa.text(sql_text(f"{QUERIES}/carry_seen.sql"))).scalar_one())


def _carry_params(name: str, T: pd.Timestamp, cfg, seen: str) -> dict:
    tp = T - CARRY_DAY
    params = {"t": T.to_pydatetime(), "tp": tp.to_pydatetime(), "seen": seen}
    if name == "performance":
        read = READS[name]["assessment_results"]

        def lower(at):  # the window's and the retention's lower bounds at `at`
            return (at - pd.Timedelta(days=float(read.days(cfg))),
                    RETENTION_POLICY.activity_cutoff(at))
        params["left_from"] = min(lower(tp)).to_pydatetime()
        params["left_to"] = max(lower(T)).to_pydatetime()
    return params


def _dirty_query(name: str) -> str:
    """The union of the category's dirty-learner queries (``CARRY_DIRTY``): user_id, reason."""
    return "\nunion all\n".join(f"({sql_text(f'{QUERIES}/{f}')})" for f in CARRY_DIRTY[name])


def dirty_learners(conn: Connection, name: str, T: pd.Timestamp, cfg, seen: str) -> pd.DataFrame:
    """``user_id``, ``reason`` of the learners whose inputs may differ between T - 1 day and
    ``T`` (``seen``: the T - 1 day run's pg_snapshot); one row per reason found."""
    return read_frame(conn, _dirty_query(name), _carry_params(name, utc(T), cfg, seen))


def _previous_run(conn: Connection, name: str, table: str, T: pd.Timestamp, fingerprint: str,
                  catalogs_fp: str) -> tuple[dict | None, str | None]:
    """The comparable record of the snapshot of T - 1 day, or None and why not."""
    if name not in CARRY_DIRTY:
        return None, None
    rows = conn.execute(sa.text(sql_text(f"{QUERIES}/carry_previous_run.sql").format(table=table)),
                        {"table": table, "tp": (T - CARRY_DAY).to_pydatetime()}).mappings().all()
    if not rows:
        return None, "no recorded snapshot of T - 1 day"
    prev = dict(rows[0])
    if prev["fingerprint"] != fingerprint:
        return None, "config or code changed since T - 1 day"
    if prev["catalog_fingerprint"] != catalogs_fp:
        return None, "a catalog changed since T - 1 day"
    if prev["age"] > pd.Timedelta(days=CHANGE_LOG_DAYS - 1):
        return None, "the run of T - 1 day is older than the input-change log"
    if prev["rows"] > 0 and prev["rows_now"] == 0:
        return None, "the snapshot of T - 1 day is gone"
    return prev, None


def _carry_forward(writer: SnapshotWriter, name: str, T: pd.Timestamp, cfg, prev: dict,
                   secs: dict[str, float]) -> tuple[int, int]:
    """Fill ``carry_dirty`` and copy the other learners' rows of T - 1 day; returns (rows copied,
    runs of the copy that failed on a learner erased meanwhile) (``secs``: ``carry_dirty`` and ``carry_copy`` seconds)."""
    conn, table = writer.conn, writer.table
    t0 = time.perf_counter()
    conn.execute(sa.text(sql_text(f"{QUERIES}/carry_dirty_create.sql")))
    conn.execute(sa.text(sql_text(f"{QUERIES}/carry_dirty_fill.sql").format(query=_dirty_query(name))),
                 _carry_params(name, T, cfg, prev["read_snapshot"]))
    conn.execute(sa.text(sql_text(f"{QUERIES}/carry_dirty_analyze.sql")))
    secs["carry_dirty"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    columns = ", ".join(f'"{c}"' for c in conn.execute(
        sa.text(sql_text(f"{QUERIES}/carry_value_columns.sql")), {"table": table}).scalars())
    # a learner erased meanwhile: the copy runs again, without the rows the erasure deleted
    copied, retried = retrying_erased_learners(conn, lambda: conn.execute(
        sa.text(sql_text(f"{QUERIES}/carry_copy.sql").format(table=table, columns=columns)),
        {"t": T.to_pydatetime(), "tp": (T - CARRY_DAY).to_pydatetime(),
         "expires": (T + cfg.ttl).to_pydatetime()}).rowcount)
    secs["carry_copy"] = time.perf_counter() - t0
    return copied, retried


def _only_dirty(reads: dict[str, Read]) -> dict[str, Read]:
    return {k: dataclasses.replace(r, sql=("carry_only_dirty.sql", r.sql)) for k, r in reads.items()}


def chunk_count(conn: Connection, chunk_learners: int) -> tuple[int, int]:
    learners = int(read_frame(conn, sql_text(f"{QUERIES}/chunk_count.sql"))["learners"].iloc[0])
    return max(1, math.ceil(learners / max(1, chunk_learners))), learners


def run_snapshot(engine: Engine, name: str, T: pd.Timestamp, config=None,
                 chunk_learners: int = DEFAULT_CHUNK_LEARNERS, check_quality: bool = True,
                 transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                 quality_engine: str = "gx", run_id: str | None = None,
                 carry: bool = True, rollup: bool = True,
                 rollup_read_learners: int = ROLLUP_READ_LEARNERS,
                 effect_read_learners: int = EFFECT_READ_LEARNERS) -> SnapshotReport:
    """Compute and write the snapshot of category ``name`` at ``T`` (see module docstring).

    Raises :class:`QualityError` (nothing written) when a critical expectation fails.
    ``transform`` (tests, fault injection) is applied to each computed chunk before checks.
    ``quality_engine``: ``"gx"`` (Great Expectations, the default) or ``"pandas"`` (the same
    suite evaluated with vectorised pandas; see ``quality.validation``).
    A learner row the table cannot hold (a value beyond its column's ``numeric(p,s)`` or
    integer range) is taken out before the quality gate and quarantined with the reason
    (``bulk.SnapshotWriter.storable``): the others are checked and written.
    ``carry=False`` runs the full computation even where a carry-forward is possible;
    ``rollup=False`` reads the raw events even where the rollup is exact for ``T``;
    ``rollup_read_learners``: the learners whose rollup rows one scan reads (``GroupedReads``).
    ``effect_read_learners``: the learners whose content-effectiveness evidence one scan reads.
    """
    started = time.perf_counter()
    T = utc(T)
    cfg = config if config is not None else CONFIGS[name]()
    _fn, table = CATEGORIES[name]
    report = SnapshotReport(name, table, T, quality=ValidationOutcome(name))
    secs = report.seconds
    label, distribution = DISTRIBUTIONS[name]
    with replace_snapshot(engine, table, T, JSON_COLUMNS[name], run_id=run_id) as writer, \
            ArrowReader(writer.conn) as arrow:
        conn = writer.conn
        t0 = time.perf_counter()
        seen = _current_snapshot(conn)
        n, report.learners_bound = chunk_count(conn, chunk_learners)
        catalogs = {k: read_frame(conn, sql_text(f"{QUERIES}/{sql}"))
                    for k, sql in CATALOGS.items() if k in INPUTS[name]}
        fingerprint, catalogs_fp = config_fingerprint(name, cfg, check_quality), catalog_fingerprint(catalogs)
        # the rollup's reads when it is exact for T
        reads = reads_for(conn, name, T, cfg) if rollup else READS[name]
        report.rollup = reads != READS[name]
        prev, report.fallback = _previous_run(conn, name, table, T, fingerprint, catalogs_fp)
        if prev is not None and not carry:
            prev, report.fallback = None, "carry-forward turned off"
        secs["read"] += time.perf_counter() - t0
        if prev is not None:
            report.path = "carry"
            report.learners_carried, report.erased_learner_retries = _carry_forward(writer, name, T, cfg, prev, secs)
            dirty = int(conn.execute(sa.text(sql_text(f"{QUERIES}/carry_dirty_count.sql"))).scalar_one())
            n = max(1, math.ceil(dirty / max(1, chunk_learners)))
            reads = _only_dirty(reads)
        report.chunks = n

        effects = None
        if name == "content_effectiveness":
            t0 = time.perf_counter()
            parts = {"content_id": [], "content_type": []}
            usage = []  # per chunk: (learner, item, latest use), the second pass's events
            effect_reads = effect_reads_for(conn, T, cfg) if rollup else EFFECT_READS
            report.rollup = effect_reads != EFFECT_READS
            evidence = GroupedReads(conn, effect_reads, T, cfg, n,
                                    effect_read_learners // max(1, chunk_learners), arrow)
            for i in range(n):
                frames = evidence_frames(evidence.take(i), report.rollup)
                p = ce.effect_parts_of(catalogs["content_items"], frames["learning_events"],
                                       frames["assessment_results"], T, cfg)
                for key in parts:
                    parts[key].append(p[key])
                usage.append(ce.latest_use(frames["learning_events"], T))
                del frames
            report.effect_scans = evidence.scans
            effects = ce.effect_tables(
                {k: ce.combine_effect_parts(v) for k, v in parts.items()}, cfg)
            secs["effects"] += time.perf_counter() - t0

        # the rollup's reads: one scan for several chunks (GroupedReads), the others per chunk
        grouped = {k: r for k, r in reads.items() if report.rollup and k in ROLLUP_READS.get(name, {})
                   and r == ROLLUP_READS[name][k]}
        per_chunk = {k: r for k, r in reads.items() if k not in grouped}
        groups = GroupedReads(conn, grouped, T, cfg, n, rollup_read_learners // max(1, chunk_learners),
                              arrow) if grouped else None
        # the per-chunk reads through ADBC too, but the carry path's: they join pg_temp.carry_dirty
        chunk_read = None if report.path == "carry" else arrow
        counts: pd.Series | None = None
        for i in range(n):
            t0 = time.perf_counter()
            frames = {**catalogs, **_read(conn, per_chunk, T, cfg, n, i, chunk_read),
                      **(groups.take(i) if groups is not None else {})}
            if effects is not None:
                frames["learning_events"] = usage[i]
                usage[i] = None
            t1 = time.perf_counter()
            inputs = AnalyticsInputs(**frames)
            if effects is not None:
                args = [getattr(inputs, f) for f in INPUTS[name]]
                frame = ce.compute_content_effectiveness(*args, T, cfg,
                                                         precomputed_effects=effects)
            else:
                frame = compute(name, inputs, T, cfg)
            if transform is not None:
                frame = transform(frame)
            frame = writer.storable(frame)
            del frames, inputs
            t2 = time.perf_counter()
            if check_quality:
                outcome = validate(frame, name, engine=quality_engine)
                report.quality = report.quality.merge(outcome)
                if not outcome.success:
                    raise QualityError(report.quality, i)
            t3 = time.perf_counter()
            writer.write(frame)
            t4 = time.perf_counter()
            secs["read"] += t1 - t0
            secs["compute"] += t2 - t1
            secs["validate"] += t3 - t2
            secs["write"] += t4 - t3
            report.rows += len(frame)
            report.learners_recomputed += len(frame)
            report.chunk_rows.append(len(frame))
            if report.preview is None or len(report.preview) < 10:
                head = frame.head(10 - (0 if report.preview is None else len(report.preview)))
                report.preview = head if report.preview is None else pd.concat(
                    [report.preview, head], ignore_index=True)
            d = distribution(frame)
            counts = d if counts is None else counts.add(d, fill_value=0)
            del frame
        report.rollup_scans = groups.scans if groups is not None else 0
        if report.path == "carry":
            carried = read_frame(conn, sql_text(f"{QUERIES}/carry_distribution.sql").format(
                table=table, column=DISTRIBUTION_COLUMN[name]), {"t": T.to_pydatetime()})
            if len(carried):
                d = distribution(carried)
                counts = d if counts is None else counts.add(d, fill_value=0)
            report.rows += report.learners_carried
        report.quarantined = writer.quarantined
        report.dropped_erased = writer.dropped_erased
        conn.execute(sa.text(sql_text(f"{QUERIES}/carry_record_run.sql")), {
            "table": table, "t": T.to_pydatetime(), "path": report.path,
            "fingerprint": fingerprint, "catalog_fingerprint": catalogs_fp, "seen": seen,
            "rows": report.rows, "recomputed": report.learners_recomputed,
            "carried": report.learners_carried})
    if name in CARRY_DIRTY:  # own short transaction: concurrent snapshots never wait on it
        with engine.begin() as conn:
            conn.execute(sa.text(sql_text(f"{QUERIES}/carry_prune_changes.sql")),
                         {"keep_days": CHANGE_LOG_DAYS})
    if effects is not None:  # committed: store the item effects for the recommendations of the same T
        item, by_type = effects
        save_model(engine, ITEM_EFFECTS, T, {
            "effects": item[list(ITEM_EFFECT_DTYPES)].to_dict("list"),
            # with the item effects, what the independent check compares (checks/stored_effects.sql)
            "type_effects": by_type[list(TYPE_EFFECT_DTYPES)].to_dict("list")},
            pd.Timedelta(hours=ITEM_EFFECTS_TTL_HOURS))
    report.distribution = (counts if counts is not None else pd.Series(dtype="int64")) \
        .fillna(0).astype("int64").rename(label)
    if name in ("skill_gap", "mastery"):
        report.distribution = report.distribution.sort_index()
    report.elapsed = time.perf_counter() - started
    return report


def count_rows(engine: Engine, table: str, T: pd.Timestamp) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"select count(*) from {table} where calculated_at = :t"),
                                {"t": utc(T).to_pydatetime()}).scalar_one())


def update_activity_summary(engine: Engine, T: pd.Timestamp) -> dict:
    """Fold the activity rows that retention at ``T`` will delete (older than
    ``RETENTION_POLICY.activity_cutoff(T)``) into ``learner_activity_summary``, each once
    (``sql/queries/learner_analytics/activity_summary_update.sql``); returns the counts.

    Run before the snapshots of T and before retention: engagement's last activity then
    outlives the raw rows (issue 15). Idempotent; an older T (backfill) folds nothing.
    """
    through = RETENTION_POLICY.activity_cutoff(utc(T)).to_pydatetime()
    with engine.begin() as conn:
        row = conn.execute(sa.text(sql_text(f"{QUERIES}/activity_summary_update.sql")),
                           {"through": through}).one()
    return {"learners_updated": int(row.learners), "events_folded": int(row.events_folded),
            "results_folded": int(row.results_folded), "watermark_advanced": bool(row.advanced),
            "folded_through": pd.Timestamp(row.through).isoformat()}


# ═══════════════ the learner daily activity rollup (issue 18) ═══════════════

def rollup_asof(conn: Connection, share: bool = False) -> pd.Timestamp | None:
    """The instant the learner daily activity rollup is exact for (None: never built).
    ``share``: hold a share lock on it until the transaction ends (a snapshot reading the rollup
    keeps a concurrent maintenance, e.g. of the next partition in a backfill, from moving it)."""
    value = conn.execute(sa.text("select asof from learner_daily_activity_asof"
                                 + (" for share" if share else ""))).scalar()
    return None if value is None else utc(pd.Timestamp(value))


def rollup_exact_for(conn: Connection, name: str, T: pd.Timestamp, cfg) -> bool:
    """Whether category ``name`` may read the rollup at ``T``: it has rollup reads, ``T`` is UTC
    midnight, the category's windows are whole days (day bins then match them) inside the
    retained days (after T - 90 d), the rollup is exact for ``T`` (its as-of is ``T``), its session
    parts were cut with the category's session gap (``ROLLUP_SESSION_GAP``) and no
    cell of those days is marked stale since (``learning_events_rollup_dirty``: an event
    updated, deleted or inserted with an old ``updated_at`` after the maintenance)."""
    if name not in ROLLUP_READS or T != T.normalize():
        return False
    days = [float(getattr(cfg, f)) for f in ROLLUP_DAY_FIELDS[name]]
    if not all(d.is_integer() and d > 0 for d in days):
        return False
    kept = RETENTION_POLICY.activity_cutoff(T)
    spans = days + [float(r.days(cfg)) for r in ROLLUP_READS[name].values() if r.days is not None]
    if T - pd.Timedelta(days=max(spans)) < kept:
        return False
    if rollup_asof(conn, share=True) != T:
        return False
    if name in ROLLUP_SESSION_GAP and rollup_session_gap(conn) != pd.Timedelta(
            minutes=float(getattr(cfg, ROLLUP_SESSION_GAP[name]))):
        return False
    return not rollup_stale_since(conn, kept)


def rollup_stale_since(conn: Connection, since: pd.Timestamp) -> bool:
    """Whether a cell of a day from ``since`` on is marked stale since the rollup's maintenance
    (``learning_events_rollup_dirty``: an event updated, deleted or inserted with an old
    ``updated_at`` after it)."""
    return bool(conn.execute(sa.text("select exists (select 1 from learning_events_rollup_dirty "
                                     "where day >= :d)"), {"d": since.date()}).scalar_one())


def rollup_session_gap(conn: Connection) -> pd.Timedelta | None:
    """The session gap the rollup's session parts were cut with (None: not built with parts)."""
    value = conn.execute(sa.text("select session_gap from learner_daily_activity_asof")).scalar()
    return None if value is None else pd.Timedelta(value)


def rollup_item_use(conn: Connection) -> bool:
    """Whether the rollup holds its item cells (``learner_daily_item_use``, migration 0021): false
    for a rollup built before it (the next maintenance rebuilds)."""
    return bool(conn.execute(sa.text("select item_use from learner_daily_activity_asof")).scalar())


def maintained_session_gap() -> pd.Timedelta:
    """The gap the maintenance cuts session parts with: engagement's default."""
    return pd.Timedelta(minutes=CONFIGS["engagement"]().session_gap_minutes)


def reads_for(conn: Connection, name: str, T: pd.Timestamp, cfg) -> dict[str, Read]:
    """The chunked reads of category ``name`` at ``T``: its raw reads (``READS``), with those of
    ``ROLLUP_READS`` instead when the rollup is exact for ``T`` (``rollup_exact_for``); a
    backfill or a re-run of a past day (the rollup's as-of is later) reads the raw events."""
    reads = READS[name]
    if rollup_exact_for(conn, name, utc(T), cfg):
        reads = {**reads, **ROLLUP_READS[name]}
    return reads


def effect_reads_for(conn: Connection, T: pd.Timestamp, cfg) -> dict[str, Read]:
    """Content effectiveness' evidence reads at ``T``: :data:`EFFECT_READS`, with the rollup's
    item cells for the events (:data:`EFFECT_ROLLUP_READS`) when they are exact for ``T``: ``T``
    is UTC midnight (the retention cutoff is then a bin boundary), the effect window is at least
    a day (its ends then lie in different bins: migration 0021), the rollup is exact for ``T``
    with its item cells, and no cell from the day before the cutoff's on is marked stale since.
    A backfill or a re-run of a past day reads the raw events."""
    T = utc(T)
    kept = RETENTION_POLICY.activity_cutoff(T)
    if T != T.normalize() or not float(cfg.effect_window_days) >= 1:
        return EFFECT_READS
    if rollup_asof(conn, share=True) != T or not rollup_item_use(conn):
        return EFFECT_READS
    if rollup_stale_since(conn, kept - pd.Timedelta(days=1)):
        return EFFECT_READS
    return {**EFFECT_READS, **EFFECT_ROLLUP_READS}


def evidence_frames(frames: dict[str, pd.DataFrame], from_cells: bool) -> dict[str, pd.DataFrame]:
    """The evidence frames of :data:`EFFECT_READS` from the frames read with
    :func:`effect_reads_for`'s reads: the item cells turned into events when ``from_cells``."""
    if not from_cells:
        return frames
    return {**frames, "learning_events": ce.events_from_item_cells(frames["learning_events"])}


#: A first build's settings, for its transaction only. It reads every event of the retention
#: window once: a sequential scan and one sort in memory beat the planner's choice, the
#: (user_id, occurred_at) index (rows presorted by learner, but one random heap access per event:
#: 1.6M buffer reads of a 45k-page table at M); its sorts and index builds need more than the
#: server's 4 MB / 64 MB. (docs/learner-analytics-assets.md, "First build".)
FIRST_BUILD_SETTINGS = {"enable_indexscan": "off", "work_mem": "256MB", "maintenance_work_mem": "256MB"}

#: The rollup's incremental maintenance runs without JIT (``update_daily_activity``).
JIT_OFF = "set local jit = off"


def update_daily_activity(engine: Engine, T: pd.Timestamp) -> dict:
    """Bring the learner daily activity rollup to ``T`` (``learner_daily_activity``, migration
    0014), in one transaction; returns the counts.

    - never built (no as-of), or its session parts cut with another gap than
      :func:`maintained_session_gap` (or none: built before migration 0018): a first build from
      every event known at ``T`` (``daily_activity_clear.sql`` + ``daily_activity_build.sql``);
    - as-of before ``T``: only the (learner, day) cells touched by events ingested in
      (as-of, T] or marked stale by the triggers are recomputed (``daily_activity_update.sql``,
      without JIT: its index probes gain nothing from a compiled plan, whose compilation at L's
      plan costs takes longer than the statement);
    - as-of at or after ``T`` (a re-run, a backfill of a past day): nothing changes; the
      snapshots of such a T read the raw events (``reads_for``).

    The same statement maintains the session parts (``learner_daily_sessions``, migration 0018)
    of the same (learner, day) cells. Cells whose day bin ends at or before the retention cutoff
    (T - 90 d) are removed.
    """
    T = utc(T)
    floor = RETENTION_POLICY.activity_cutoff(T).date()
    gap = maintained_session_gap()
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("select 1 from learner_daily_activity_asof for update"))
        asof = rollup_asof(conn)
        if asof is not None and (rollup_session_gap(conn) != gap or not rollup_item_use(conn)):
            asof = None  # parts of another gap (or none), or no item cells: rebuilt
        if asof is not None and asof >= T:
            return {"mode": "unchanged", "asof": asof.isoformat(), "cells_written": 0,
                    "cells_removed": 0, "events_read": 0, "cells_recomputed": 0,
                    "parts_written": 0, "parts_removed": 0, "items_written": 0, "items_removed": 0,
                    "seconds": round(time.perf_counter() - started, 3)}
        params = {"t": T.to_pydatetime(), "floor": floor, "gap": gap.to_pytimedelta()}
        parts = sql_text(f"{QUERIES}/daily_sessions_parts.sql")
        if asof is None:
            mode = "first_build"
            for name, value in FIRST_BUILD_SETTINGS.items():
                conn.execute(sa.text(f"set local {name} = '{value}'"))
            conn.execute(sa.text(sql_text(f"{QUERIES}/daily_activity_clear.sql")))
            with indexes_rebuilt_after(conn, ["learner_daily_activity", "learner_daily_sessions",
                                              "learner_daily_item_use"]):
                row = conn.execute(sa.text(sql_text(f"{QUERIES}/daily_activity_build.sql").format(
                    session_parts=parts)), params).one()
        else:
            mode = "incremental"
            # index probes per touched cell: JIT compiles the whole plan for nothing (at L's plan
            # costs, past jit_optimize / jit_inline_above_cost, ~1 s of a ~0.3 s statement)
            conn.execute(sa.text(JIT_OFF))
            row = conn.execute(sa.text(sql_text(f"{QUERIES}/daily_activity_update.sql").format(
                session_parts=parts)), {**params, "lo": asof.to_pydatetime()}).one()
    if mode == "first_build":  # the planner's statistics of the new rows (sampled, quick)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("analyze learner_daily_activity, learner_daily_sessions, "
                                 "learner_daily_item_use"))
    return {"mode": mode, "asof": T.isoformat(), "cells_written": int(row.cells_written),
            "cells_removed": int(row.cells_removed), "events_read": int(row.events_read),
            "cells_recomputed": int(row.cells_recomputed), "parts_written": int(row.parts_written),
            "parts_removed": int(row.parts_removed), "items_written": int(row.items_written),
            "items_removed": int(row.items_removed),
            "seconds": round(time.perf_counter() - started, 3)}
