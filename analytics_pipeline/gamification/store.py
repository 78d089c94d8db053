"""The gamification layer's store: every read and write of the points ledger, daily activity,
totals/levels/streaks and achievements (the assets in ``assets/gamification.py`` only wire it).

Each function works on the window ``[start, T]`` (:func:`window`) and is idempotent, so a re-run,
a re-execution from failure or a backfill in any order gives the same tables:

- ``daily_activity``      upsert on ``(user_id, date)``: first = least, last = greatest;
- ``point_transactions``  COPY into a temp table, ``INSERT ... ON CONFLICT (activity_type,
                          source_id) DO NOTHING`` (item awards keyed per learner and item, see
                          ``gamification.incremental``), day and streak awards set-based in SQL;
- ``user_points``         recomputed set-based from the whole ledger (SQL SUM) and daily_activity
                          as of the latest T ever processed — never incremented — for the learners
                          whose values can have changed since the last run (everyone on the first);
- ``user_achievements``   each achievement once per learner (``ON CONFLICT``), ``earned_at`` the
                          instant the criteria were first met.

SQL in ``sql/queries/gamification/``. Memory: only the needed columns and the window are read;
the Python parts (item awards, levels, achievements: the pure modules of this package) run per
user-hash bucket of at most ``chunk_rows`` input rows. Each function returns its metadata as a
plain dict. Docs: ``docs/gamification.md``.
"""
from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.gamification import (
    AchievementRules,
    GamificationConfig,
    PointRules,
    earned_achievements,
    item_awards,
)
from analytics_pipeline.settings import CHANGE_LOG_DAYS
from analytics_pipeline.warehouse import copy_frame, read_frame, sql_text
from analytics_pipeline.warehouse.bulk import (
    analyze_if_stale,
    column_limits,
    indexes_built_after,
    quarantine_rows,
    read_copy,
    retrying_erased_learners,
    storable_split,
    without_arbiter,
)

#: The ledger's advisory lock: ledger writers take it shared, leaderboard refreshes exclusive.
LEDGER_LOCK_SQL = "hashtext('analytics_pipeline:point_transactions')"
#: Events are read this long before the window so a local day that began in the previous UTC
#: day (time zones up to UTC+14, 25-hour DST days) gets its true first event.
LOOKBACK = pd.Timedelta(hours=26)
#: The first run (an empty ledger) catches up on this much history — the activity logs'
#: retention — so a new warehouse starts with every learner's points, streaks and achievements.
CATCH_UP_DAYS = 90
DEFAULT_CHUNK_ROWS = 200_000
#: Memory per sort/hash of the catch-up's set-based statements (the server default, 4 MB, sends
#: the window's groupings and window functions to disk); set for the step's transaction only.
WORK_MEM = "256MB"


def _q(name: str) -> sa.TextClause:
    return sa.text(sql_text(f"gamification/{name}.sql"))


def _write(conn: Connection, name: str, params: dict | None = None, first_build: bool = False) -> tuple[sa.Result, int]:
    """Run the set-based write ``name`` (its rows fetched); again when a learner it wrote was erased
    meanwhile (``bulk.retrying_erased_learners``: each write reads its learners from users). In a
    ``first_build`` (``indexes_built_after(..., unique_keys=True)`` yielded true) without its
    ``ON CONFLICT`` clause (``bulk.without_arbiter``). Returns (its rows, how many runs failed so)."""
    text = sql_text(f"gamification/{name}.sql")
    statement = sa.text(without_arbiter(text) if first_build else text)
    return retrying_erased_learners(conn, lambda: conn.execute(statement, params or {}).all())


def _buckets(n_rows: int, chunk_rows: int) -> int:
    return max(1, math.ceil(n_rows / max(1, chunk_rows)))


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """The step's one transaction, with :data:`WORK_MEM` for its statements and index builds."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"set local work_mem = '{WORK_MEM}'"))
        conn.execute(sa.text(f"set local maintenance_work_mem = '{WORK_MEM}'"))  # a first build's index builds
        yield conn


def _stage_in_buckets(conn: Connection, kind: str, names: tuple[str, ...], params: dict) -> None:
    """Fill ``tmp_<kind>_<name>`` (``stage_<kind>_<name>.sql``, rows in bucket order) for each name,
    indexed on ``bucket`` and analysed: the per-bucket reads then find their rows by index."""
    for name in names:
        conn.execute(_q(f"stage_{kind}_{name}"), params)
        conn.execute(sa.text(f"create index on tmp_{kind}_{name} (bucket)"))
        conn.execute(sa.text(f"analyze tmp_{kind}_{name}"))


def _inserted_and_updated(flags: list[bool]) -> tuple[int, int]:
    """Counts of an upsert's ``inserted`` flags (one per row returned): (true, false)."""
    inserted = sum(1 for f in flags if f)
    return inserted, len(flags) - inserted


def _stage(conn: Connection, tmp_table: str, frame: pd.DataFrame, target: str, run_id: str | None,
           truncate: bool = True, **copy_options) -> int:
    """Empty ``tmp_table`` (unless ``truncate`` is false) and COPY ``frame`` into it (one bucket's rows). A learner row a column cannot
    hold (an integer overflow) is quarantined with the reason under ``target`` instead of failing the
    step for everybody (``bulk.storable_split``); returns how many."""
    frame, flagged = storable_split(frame, column_limits(conn, tmp_table))
    if truncate:
        conn.execute(sa.text(f"truncate {tmp_table}"))
    copy_frame(conn, tmp_table, frame, **copy_options)
    return quarantine_rows(conn, target, flagged, run_id)


def window(engine: Engine, day_start: pd.Timestamp, T: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, T]``: the partition's day, widened back to the last day ever processed (so a
    missed night leaves no gap) or, on the first run, to ``CATCH_UP_DAYS`` before T. Late data (raw
    rows that *arrived* in the window with an earlier activity instant) widens the window of their
    learners only: each step calls :func:`late_learners` in its transaction."""
    with engine.connect() as conn:
        last = conn.execute(_q("last_as_of")).scalar()
    caught_up_from = pd.Timestamp(last).tz_convert("UTC") if last is not None else T - pd.Timedelta(days=CATCH_UP_DAYS)
    return min(day_start, caught_up_from), T


def late_learners(conn: Connection, start: pd.Timestamp, T: pd.Timestamp) -> int:
    """Fill ``tmp_late_learners (user_id, start)`` (late_learners.sql): the learners with raw rows
    that arrived — ``updated_at`` — in ``[start, T]`` with an activity instant before ``start`` (an
    event of 28 November loaded on the 30th), each with its own window start, the oldest such
    instant, at most ``CATCH_UP_DAYS`` before T. The steps read ``[start, T]`` for everyone and
    ``[learner's start, start)`` for these learners only, so their awards, active days and
    achievements are made (a window cut by the activity instant alone never saw them) without
    re-reading everyone's history. Returns how many."""
    conn.execute(_q("late_learners"), {"start": start.to_pydatetime(), "t": T.to_pydatetime(),
                                       "floor": (T - pd.Timedelta(days=CATCH_UP_DAYS)).to_pydatetime()})
    conn.execute(sa.text("alter table tmp_late_learners add primary key (user_id)"))
    conn.execute(sa.text("analyze tmp_late_learners"))
    return int(conn.execute(sa.text("select count(*) from tmp_late_learners")).scalar_one())


def update_daily_activity(engine: Engine, start: pd.Timestamp, T: pd.Timestamp) -> dict:
    """Upsert the window's active days (a late learner's from its own start, :func:`late_learners`);
    counts of days inserted/updated, of unknown learners and of late learners."""
    params = {"start": start.to_pydatetime(), "t": T.to_pydatetime()}
    with _transaction(engine) as conn:
        n_late = late_learners(conn, start, T)
        with indexes_built_after(conn, "daily_activity", foreign_keys=True, unique_keys=True) as bulk:
            rows, retried = _write(conn, "daily_activity_upsert", {**params, "lookback": LOOKBACK.to_pytimedelta()},
                                   first_build=bulk)
            upserted = rows[0]
        unknown = conn.execute(_q("events_of_unknown_users"), params).one()
    analyze_if_stale(engine, {"daily_activity": int(upserted.inserted) + int(upserted.updated)})
    return {"days_inserted": int(upserted.inserted), "days_updated": int(upserted.updated), "events_of_unknown_users": int(unknown.events),
            "unknown_users": int(unknown.learners), "late_learners": n_late, "bulk_load": bulk, "window_start": start.isoformat(), "T": T.isoformat(),
            "erased_learner_retries": retried}


def update_ledger(engine: Engine, start: pd.Timestamp, T: pd.Timestamp, rules: PointRules,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS, run_id: str | None = None,
                  log: logging.Logger | None = None) -> dict:
    """Insert the window's item, day and streak awards into the ledger (each at most once); a
    late learner's window begins at its own start (:func:`late_learners`)."""
    window_params = {"start": start.to_pydatetime(), "t": T.to_pydatetime()}
    awarded: Counter[str] = Counter()  # new awards per activity_type
    computed = quarantined = 0
    with _transaction(engine) as conn:
        conn.execute(sa.text(f"select pg_advisory_xact_lock_shared({LEDGER_LOCK_SQL})"))
        n_late = late_learners(conn, start, T)
        buckets = _buckets(conn.execute(_q("window_item_counts"), window_params).scalar_one(), chunk_rows)
        _stage_in_buckets(conn, "window", ("events", "results", "enrollments"),  # the window read once
                          {**window_params, "buckets": buckets})
        conn.execute(_q("create_tmp_point_awards"))
        for bucket in range(buckets):  # the Python step per bucket; the awards gather in tmp_point_awards
            frames = [read_copy(conn, sql_text(f"gamification/window_{name}.sql"), {"bucket": bucket})
                      for name in ("completed_events", "passed_results", "completed_enrollments")]
            ledger = item_awards(*frames, T, rules)
            computed += len(ledger)
            quarantined += _stage(conn, "tmp_point_awards", ledger[["user_id", "points", "activity_type", "source_id",
                                                                    "origin_id", "metadata", "timestamp"]],
                                  "point_transactions", run_id, truncate=False, json_columns=["metadata"])
        skipped_unknown = conn.execute(_q("count_tmp_unknown_users")).scalar_one()
        with indexes_built_after(conn, "point_transactions", foreign_keys=True, unique_keys=True) as bulk:
            items, retried_items = _write(conn, "insert_item_awards", first_build=bulk)  # one statement, origin order
            days, retried_days = _write(conn, "insert_day_awards", {
                **window_params, "daily_points": rules.daily_first_activity, "streak_points": rules.streak_bonus,
                "streak_every": rules.streak_bonus_every_days,
            }, first_build=bulk)
            awarded.update(dict(items))
            awarded.update(dict(days))
        total_rows = conn.execute(sa.text("select count(*) from point_transactions")).scalar_one()
    analyze_if_stale(engine, {"point_transactions": sum(awarded.values())})  # the first run's catch-up
    if log is not None:
        log.info("ledger up to %s: %s new awards %s", T.isoformat(), sum(awarded.values()), dict(awarded))
    return {
        "awards_inserted": sum(awarded.values()),
        **{f"inserted_{k}": v for k, v in sorted(awarded.items())},
        "item_awards_computed": computed,
        "item_awards_of_unknown_users": int(skipped_unknown),
        "rows_quarantined": quarantined,
        "erased_learner_retries": retried_items + retried_days,
        "user_buckets": buckets,
        "late_learners": n_late,
        "bulk_load": bulk,
        "ledger_rows": int(total_rows),
        "T": T.isoformat(),
    }


#: bump when the meaning of a user_points row changes in a way the hashed files do not show
#: ("2": the learners' time zones left the fingerprint for user_points_zones, migration 0020)
USER_POINTS_FORMAT = "2"
#: the SQL a user_points row and the choice of learners depend on (hashed into the fingerprint)
_USER_POINTS_SQL = ("user_points_bucket", "user_points_learners", "user_points_record_zones")


def _user_points_fingerprint(rules: GamificationConfig) -> str:
    """Hash of the global inputs of a user_points row: the level and streak rules and the SQL that
    computes it. A learner's own inputs (ledger, days, time zone) make that learner dirty instead
    (user_points_learners.sql)."""
    h = hashlib.sha256(f"user_points|{USER_POINTS_FORMAT}|".encode())
    h.update(repr((rules.levels, rules.streaks)).encode())
    for name in _USER_POINTS_SQL:
        h.update(sql_text(f"gamification/{name}.sql").encode())
    return h.hexdigest()


def _user_points_previous_run(conn: Connection, fingerprint: str) -> tuple[dict | None, str]:
    """The last run's record when this run may recompute only the changed learners, else None and why."""
    row = conn.execute(_q("user_points_last_run")).mappings().one_or_none()
    if row is None:
        return None, "no earlier run recorded"
    if row["fingerprint"] != fingerprint:
        return None, "rules or code changed since the last run"
    if row["age"] > pd.Timedelta(days=CHANGE_LOG_DAYS - 1):
        return None, "the last run is older than the input-change log"
    return dict(row), "changed learners only"


def update_user_points(engine: Engine, T: pd.Timestamp, rules: GamificationConfig,
                       chunk_rows: int = DEFAULT_CHUNK_ROWS, run_id: str | None = None,
                       everyone: bool = False) -> dict:
    """Recompute the totals, level and streaks as of the latest T ever processed of every learner
    whose values can have changed since the last run (user_points_learners.sql: new or changed
    ledger rows or days, a current streak, a time zone other than the recorded one), or of everyone
    (``everyone``, the first run, or rules / code changed): each learner recomputed
    from the whole ledger and daily_activity, never incremented, so the rows equal a full run's."""
    inserted = updated = learners = quarantined = retried = 0
    with _transaction(engine) as conn:
        # first: the upsert of the as-of row waits for a concurrent run's commit (one at a time), so
        # the snapshot taken after it sees that run's writes
        as_of = pd.Timestamp(conn.execute(_q("advance_as_of"), {"t": T.to_pydatetime()}).scalar_one())
        seen = str(conn.execute(sa.text(sql_text("learner_analytics/carry_seen.sql"))).scalar_one())
        fingerprint = _user_points_fingerprint(rules)
        previous, reason = (None, "everyone requested") if everyone else _user_points_previous_run(conn, fingerprint)
        conn.execute(_q("user_points_learners"), {
            "everyone": previous is None, "seen": previous["seen"] if previous else None,
            "since": previous["as_of"] if previous else as_of.to_pydatetime(),
            "as_of": as_of.to_pydatetime()})
        n_learners = conn.execute(sa.text("select count(*) from tmp_user_points_learners")).scalar_one()
        conn.execute(sa.text("analyze tmp_user_points_learners"))
        buckets = _buckets(n_learners, chunk_rows)
        conn.execute(_q("create_tmp_user_points"))
        for bucket in range(buckets):
            frame = read_copy(conn, sql_text("gamification/user_points_bucket.sql"), {
                "as_of": as_of.to_pydatetime(), "grace": rules.streaks.grace_days,
                "buckets": buckets, "bucket": bucket,
            })
            if frame.empty:
                continue
            frame["current_level"] = rules.levels.level_for(frame["total_points"].to_numpy())
            learners += len(frame)
            quarantined += _stage(conn, "tmp_user_points", frame[["user_id", "total_points", "current_level",
                                                                  "current_streak", "longest_streak"]],
                                  "user_points", run_id)
            flags, bucket_retried = _write(conn, "upsert_user_points")
            bucket_inserted, bucket_updated = _inserted_and_updated([row.inserted for row in flags])
            retried += bucket_retried
            inserted += bucket_inserted
            updated += bucket_updated
        conn.execute(_q("user_points_record_zones"), {"everyone": previous is None})
        conn.execute(_q("user_points_record_run"), {"as_of": as_of.to_pydatetime(), "fingerprint": fingerprint,
                                                     "seen": seen})
        summary = conn.execute(sa.text(
            "select count(*), coalesce(sum(total_points), 0), coalesce(max(current_level), 0), "
            "coalesce(max(longest_streak), 0) from user_points")).one()
    return {
        "as_of": as_of.isoformat(),
        "path": "full" if previous is None else "changed_learners",
        "path_reason": reason,
        "learners_selected": int(n_learners),
        "learners_computed": learners,
        "rows_quarantined": quarantined,
        "erased_learner_retries": retried,
        "rows_inserted": inserted,
        "rows_updated": updated,
        "rows": int(summary[0]),
        "points_total": int(summary[1]),
        "max_level": int(summary[2]),
        "max_longest_streak": int(summary[3]),
        "user_buckets": buckets,
    }


def update_achievements(engine: Engine, start: pd.Timestamp, T: pd.Timestamp, rules: AchievementRules,
                        chunk_rows: int = DEFAULT_CHUNK_ROWS, run_id: str | None = None) -> dict:
    """Evaluate the catalog for the window's candidates (a late learner's from its own start,
    :func:`late_learners`) on their whole history; insert what they earned."""
    evaluated = 0
    names = ("ledger", "days", "enrollments", "results", "skills")
    with _transaction(engine) as conn:
        catalog = read_frame(conn, sql_text("gamification/achievement_catalog.sql"))
        n_late = late_learners(conn, start, T)
        conn.execute(_q("achievement_candidates"), {"start": start.to_pydatetime(), "t": T.to_pydatetime()})
        n_candidates = conn.execute(sa.text("select count(*) from tmp_achievement_candidates")).scalar_one()
        conn.execute(sa.text("analyze tmp_achievement_candidates"))
        # a learner's history is larger than one row: about 100 rows each on average
        buckets = _buckets(n_candidates * 100, chunk_rows)
        _stage_in_buckets(conn, "achievement", names,  # the candidates' history read once
                          {"t": T.to_pydatetime(), "buckets": buckets,
                           "mastery_threshold": rules.mastery_threshold})
        conn.execute(_q("create_tmp_user_achievements"))
        for bucket in range(buckets):
            frames = {name: read_copy(conn, sql_text(f"gamification/achievement_{name}.sql"), {"bucket": bucket})
                      for name in names}
            earned = earned_achievements(catalog, frames["ledger"], frames["days"], frames["enrollments"],
                                         frames["results"], frames["skills"], T, rules)
            evaluated += len(earned)
            _stage(conn, "tmp_user_achievements", earned[["user_id", "achievement_id", "earned_at"]],
                   "user_achievements", run_id, truncate=False)
        # one statement for all buckets, in key order (see insert_item_awards.sql)
        rows, retried = _write(conn, "insert_user_achievements")
        upserted = rows[0]
        inserted, moved_back = int(upserted.inserted), int(upserted.moved_back)
        total = conn.execute(sa.text("select count(*) from user_achievements")).scalar_one()
    return {
        "candidates": int(n_candidates),
        "late_learners": n_late,
        "earned_evaluated": evaluated,
        "achievements_inserted": inserted,
        "earned_at_moved_back": moved_back,
        "erased_learner_retries": retried,
        "rows": int(total),
        "catalog_entries": len(catalog),
        "user_buckets": buckets,
        "T": T.isoformat(),
    }
