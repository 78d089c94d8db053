"""The independent check: every published metric computed a second way and compared per key.

Each published table or view has a second computation, **one SQL statement over the raw
tables** (``sql/queries/checks/*.sql``; engagement and performance reuse the benchmark's
``sql/queries/bench/*.sql``), written from the meaning in docs/analytics.md and never from the
pandas code. :func:`check` runs it for the snapshot instant ``T``, reads what the pipeline
published (the rows of ``calculated_at = T``, or the materialized view) and compares them key
by key (learner, or group): numbers within the rounding of the published value, strings and
timestamps exactly, JSON lists element by element. A missing value (NULL / NaN / None) equals
only another missing value, so a placeholder 0 where the check finds no data is a mismatch.

**Bounded at scale.** The nightly compares every learner of a platform of at most
``independent_check_learners`` users (settings, default 5,000); above, a deterministic hash
sample of about that many: the learners with ``mod(abs(hashtext(user_id)), n) = 0``,
``n = ceil(learners / setting)``. The sample restricts both sides: the published rows, and the
independent statement where it forms its learner set (each ``{sample:<column>}`` of the SQL
becomes that predicate, or ``true`` when everyone is compared), so the statement really reads,
sorts and aggregates ~1/n of the rows; what is computed across learners (the group checks:
skill demand, leaderboards) still uses everyone, except peer comparison: a peer group is made of
its organization's learners only, so it compares the groups of the organizations in the same hash
sample (``Check.sample_column``), each computed exactly from all of their learners
(``Check.sample_learners``). Content effectiveness is
checked in two parts (``Check.with_checks``, one report): its learner rows of the sample from
the effects the snapshot stored, and (``content_effects``) every stored item and type effect of
the skills in the same hash sample (``Check.sample_column``), computed again over all learners'
raw rows: a key's effect depends only on the results on its skill, so each compared key is
exact, and the statement reads ~1/n of the results. The report says what was compared
(``sample``). The CLI compares everyone unless told ``--max-learners``.

The gamification checks (ledger, totals / levels / streaks, achievements) compose one statement
of the awards (``checks/gamification_awards.sql``); their ``scope`` leaves out the learners whose
ledger reaches back before T − 90 d, which the retained raw rows can no longer recompute.

No Dagster here: the asset checks (``assets/learner_analytics.py``, ``assets/aggregates.py``,
``assets/gamification.py``) and the tests call :func:`check`.
"""
from __future__ import annotations

import json
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.analytics.common import utc
from analytics_pipeline.governance.policy import RETENTION_POLICY
from analytics_pipeline.warehouse.bulk import sql_text

#: mismatching keys listed in a report (the count is always complete)
EXAMPLES = 20

#: where a check reads: an engine (a connection per read) or one connection (its transaction: one
#: snapshot for every read, as the gamification checks sharing their awards run)
Bind = Engine | Connection


@contextmanager
def _connected(bind: Bind):
    """A connection of ``bind``: a new one of an engine, or the connection given (kept open)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@dataclass(frozen=True)
class Check:
    """One published relation and its independent SQL.

    ``columns``: column -> (kind, tolerance); kinds ``num`` (absolute tolerance), ``exact``,
    ``ts`` (tolerance in seconds), ``json`` (numbers inside within the tolerance).
    ``published``: the SQL reading the published rows (``:t`` = T); ``keys``: the key columns.
    ``sql``: the independent statement (``sql/queries/<sql>``); ``{name}`` placeholders are
    replaced by the text of other checks' statements (``*.sql``: composed as sub-queries) or
    by the literal given.
    """
    sql: str
    published: str
    columns: dict[str, tuple[str, float | None]]
    keys: tuple[str, ...] = ("user_id",)
    parts: dict[str, str] = field(default_factory=dict)
    #: SQL of the keys left out on both sides (``:t``, ``:kept``): what the raw tables can no
    #: longer recompute (the gamification of learners whose ledger reaches back before T − 90 d);
    #: its ``{sample:<column>}`` restrict it to the learner sample (only the compared keys matter)
    scope: str | None = None
    #: the published column the hash sample applies to when the check is not per learner (the
    #: content effects: their skill); None: a group check, always compared whole
    sample_column: str | None = None
    #: checks run with this one and folded into its report (``parts``): what its statement takes
    #: as given (content effectiveness' stored effects) checked independently on its own
    with_checks: tuple[str, ...] = ()
    #: a group check sampled on ``sample_column`` whose statement forms learner sets (peer
    #: comparison: the groups of a hash sample of organizations): the SQL of the sampled groups'
    #: learners (``{sample:<sample_column>}`` in it); each ``{sample:<column>}`` of the statement
    #: then keeps the learners in it, read before as an id array (a subquery of the hash predicate
    #: is estimated at 0.5 % of the users and planned as nested loops: 10x slower than everyone)
    sample_learners: str | None = None
    #: ``set local`` settings of the statement's transaction (:data:`SAMPLE_SCAN_SETTINGS`)
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def per_learner(self) -> bool:
        """Keyed by learner: the learner sample applies (group checks always compare all)."""
        return self.keys == ("user_id",)

    @property
    def sampled_on(self) -> str | None:
        """The published column the sample restricts (``user_id`` per learner), or None."""
        return "user_id" if self.per_learner else self.sample_column


#: ``{sample:<column>}`` in a check's SQL: the learner-sample predicate on that column
_SAMPLE = re.compile(r"\{sample:([A-Za-z_][A-Za-z0-9_.]*)\}")


def in_sample(column: str, every: int) -> str:
    """SQL predicate: ``column`` (a learner id) is in the hash sample of 1 in ``every``
    (``true`` for every learner)."""
    if every <= 1:
        return "true"
    return f"mod(abs(hashtext({column})::bigint), {int(every)}) = 0"


def sampled(text: str, every: int = 1) -> str:
    """``text`` with each ``{sample:<column>}`` replaced by :func:`in_sample` (1: everyone)."""
    return _SAMPLE.sub(lambda m: in_sample(m.group(1), every), text)


@dataclass(frozen=True)
class Sample:
    """Which learners a per-learner check compares: 1 in ``every`` of ``learners`` users
    (``every`` 1: all of them), ``sampled`` of them in the sample."""
    every: int
    learners: int
    sampled: int

    @property
    def complete(self) -> bool:
        return self.every <= 1

    def as_dict(self) -> dict:
        return {"every": self.every, "learners": self.learners, "sampled_learners": self.sampled,
                "fraction": round(self.sampled / self.learners, 6) if self.learners else 1.0}


EVERYONE = Sample(1, 0, 0)


def learner_sample(engine: Bind, max_learners: int | None) -> Sample:
    """The sample of the nightly: everyone while the platform has at most ``max_learners``
    users (None or 0: always everyone), else 1 in ceil(users / max_learners)."""
    if not max_learners or max_learners <= 0:
        return EVERYONE
    with _connected(engine) as conn:
        learners = conn.execute(sa.text("select count(*) from users")).scalar_one()
        if learners <= max_learners:
            return Sample(1, learners, learners)
        every = math.ceil(learners / max_learners)
        inside = conn.execute(sa.text(f"select count(*) from users where {in_sample('id', every)}")).scalar_one()
    return Sample(every, learners, inside)


#: The learner-analytics checks' transaction (issue 18): no JIT, whose compilation the literal
#: time bounds' real row estimates (the whole events table for content effects) would otherwise
#: pay for scans, hash joins and aggregates it does not speed up; and the sorts and hashes of the
#: sample's ~300k events at M (the effects' ~700k evidence pairs) in memory instead of on disk
#: (the server's 4 MB). (docs/scaling.md, "The learner-analytics checks' statements".)
SAMPLE_SCAN_SETTINGS = (("jit", "off"), ("work_mem", "64MB"))
#: The content effects' statement also without sorts: it has no window or ordering, and the
#: planner (the sampled results look like ~20 rows) merge-joined and sort-grouped the ~700k
#: evidence pairs on their text keys (C.UTF-8 collation: 2-3 s at M); hash joins and hash
#: aggregates instead (EXPLAIN ANALYZE at M, 1 in 6 skills: ~7 -> ~4.5 s; every skill: 43 -> 22 s).
HASHED_SCAN_SETTINGS = (*SAMPLE_SCAN_SETTINGS, ("enable_sort", "off"))


def _snapshot(table: str) -> str:
    return f"select * from {table} where calculated_at = :t"


def _leaderboard(period: str, unit: str) -> Check:
    return Check("checks/leaderboard.sql", f"select * from leaderboard_{period}",
                 {"rank": ("num", 0), f"{period}_points": ("num", 0), "user_id": ("exact", None),
                  "display_name": ("exact", None), "avatar_url": ("exact", None)},
                 keys=("entry_id",),
                 parts={"board": f"'{period}'", "unit": f"'{unit}'", "points": f"{period}_points"})


CHECKS: dict[str, Check] = {
    "velocity": Check("checks/velocity.sql", _snapshot("learner_velocity_analytics"), {
        "current_pace": ("num", 0.01), "target_pace": ("num", 0.01), "trend_direction": ("exact", None),
        "trend_percentage": ("num", 0.01), "status": ("exact", None), "estimated_completion": ("ts", 1)},
        settings=SAMPLE_SCAN_SETTINGS),
    "skill_gap": Check("checks/skill_gap.sql", _snapshot("skill_gap_analytics"), {
        "total_gaps": ("num", 0), "critical_gaps": ("num", 0), "gaps": ("json", 0.01),
        "top_priority": ("json", 0.01)}),
    "engagement": Check("bench/engagement.sql", _snapshot("engagement_analytics"), {
        "overall_score": ("num", 0), "trend": ("exact", None), "sessions_per_week": ("num", 0.005),
        "avg_session_duration": ("num", 0), "last_active": ("ts", 0),
        "engagement_by_type": ("json", 1e-4), "weekly_trend": ("json", 0)},
        settings=SAMPLE_SCAN_SETTINGS),
    "mastery": Check("checks/mastery.sql", _snapshot("mastery_analytics"), {
        "mastered_skills": ("num", 0), "in_progress_skills": ("num", 0), "skills": ("json", 0.005),
        "mastery_distribution": ("json", 0)}),
    "performance": Check("bench/performance.sql", _snapshot("performance_analytics"), {
        "avg_score": ("num", 0.01), "trend": ("exact", None), "assessments_taken": ("num", 0),
        "pass_rate": ("num", 0.01), "performance_by_skill": ("json", 0.01), "recent_scores": ("json", 1e-6)},
        settings=SAMPLE_SCAN_SETTINGS),
    # the learner rows from the stored effects, and (content_effects) the stored effects of a
    # hash sample of skills from the raw tables
    "content_effectiveness": Check(
        "checks/content_effectiveness.sql", _snapshot("content_effectiveness_analytics"), {
            "most_effective": ("json", 0.01), "least_effective": ("json", 0.01),
            "recommendations": ("json", 0)},
        parts={"skill_gap": "checks/skill_gap.sql", "stored_effects": "checks/stored_effects.sql"},
        with_checks=("content_effects",), settings=SAMPLE_SCAN_SETTINGS),
    "content_effects": Check(
        "checks/content_effects.sql", sql_text("checks/stored_effects.sql"),
        {"effect": ("num", 1e-6)}, keys=("kind", "key", "skill_id"), sample_column="skill_id",
        settings=HASHED_SCAN_SETTINGS),
    "peer_comparison": Check(
        "checks/peer_comparison.sql", "select * from peer_comparison_aggregates",
        {"avg_velocity": ("num", 0.01), "median_velocity": ("num", 0.01), "avg_score": ("num", 0.01),
         "sample_size": ("num", 0), "score_sample_size": ("num", 0)},
        keys=("organization_id", "competency_level"),
        parts={"velocity": "checks/velocity.sql", "performance": "bench/performance.sql"},
        sample_column="organization_id",
        sample_learners="select id from users where {sample:organization_id}"),
    "skill_demand": Check(
        "checks/skill_demand.sql", "select * from skill_demand_aggregates",
        {"skill_name": ("exact", None), "learner_count": ("num", 0), "avg_mastery": ("num", 0.01),
         "growth_rate": ("num", 0.01)}, keys=("skill_id", "month")),
    **{f"leaderboard_{period}": _leaderboard(period, unit) for period, unit in (("weekly", "week"),
                                                                               ("monthly", "month"))},
}
_AWARDS = {"awards": "checks/gamification_awards.sql"}
_LEDGER_TYPES = ("content_completed", "course_completed", "assessment_passed",
                 "assessment_excellence_bonus", "daily_first_activity", "streak_bonus")
#: learners whose gamification reaches back before T − 90 d, which the retained raw rows cannot
#: recompute: an item award (archived ones included) before it; a day award (daily first activity,
#: streak bonus) whose first event is before it and whose local day (in the zone the award took it
#: in) has no event in [T − 90 d, T] — the check counts only days with such an event, and retention
#: deletes the older events and the older daily_activity rows, while the award stays (a ledger
#: fact); or an active day that ended before it. A new warehouse catches up on exactly
#: T − 90 d .. T, so there it leaves out nobody. The retained day's events decide, not a fixed
#: margin: a day ending before the cutoff may have begun less than 26 h before it.
_BEFORE_RETENTION = """
select user_id from point_ledger_all
where "timestamp" < cast(:kept as timestamptz)
  and activity_type not in ('daily_first_activity', 'streak_bonus') and {sample:user_id}
union
select p.user_id from point_ledger_all p
where p.activity_type in ('daily_first_activity', 'streak_bonus')
  and p."timestamp" < cast(:kept as timestamptz) and {sample:p.user_id}
  and not exists (
    select 1 from learning_events e
    where e.user_id = p.user_id
      and e.occurred_at >= cast(:kept as timestamptz) and e.occurred_at <= cast(:t as timestamptz)
      and e.occurred_at < cast(:kept as timestamptz) + interval '2 days'
      and (e.occurred_at at time zone coalesce(p.metadata ->> 'timezone', 'UTC'))::date
          = to_date(right(p.source_id, 10), 'YYYY-MM-DD'))
union
select user_id from daily_activity where last_activity_at < :kept and {sample:user_id}"""
#: achievements count passes on the whole history: also the learners with results retention
#: retired; and they date streak and point achievements by the awards' instants, so also the
#: learners with a day award whose first event retention deleted (the day itself is recomputed,
#: from its first retained event, so the points and totals checks keep those learners); and
#: user_skills holds each skill's current mastery only, so a skill achievement for which the
#: current rows show fewer skills mastered by its earned_at than it needs (a skill assessed again
#: later, or fallen below the threshold) is a fact they no longer show: those learners are left out
_RESULTS_RETIRED = _BEFORE_RETENTION + """
union
select user_id from learner_activity_summary where results_retired > 0 and {sample:user_id}
union
select p.user_id from point_ledger_all p
where p.activity_type in ('daily_first_activity', 'streak_bonus')
  and p."timestamp" < cast(:kept as timestamptz) and {sample:p.user_id}
  and not exists (select 1 from learning_events e
                  where e.user_id = p.user_id and e.occurred_at = p."timestamp")
union
select a.user_id from user_achievements a
join achievements c on c.id = a.achievement_id and c.criteria ? 'masteredSkills'
where {sample:a.user_id} and (select count(*) from user_skills s
       where s.user_id = a.user_id and s.mastery_level >= 80 and s.last_assessed_at <= a.earned_at)
      < (c.criteria ->> 'masteredSkills')::numeric"""
CHECKS.update({
    "points_ledger": Check(
        "checks/points_ledger.sql",
        "select user_id, " + ", ".join(
            f"coalesce(sum(points) filter (where activity_type = '{t}'), 0) as {t}" for t in _LEDGER_TYPES)
        + ', sum(points) as total_points, count(*) as awards from point_transactions '
          'where "timestamp" <= :t group by user_id',
        {**{t: ("num", 0) for t in _LEDGER_TYPES}, "total_points": ("num", 0), "awards": ("num", 0)},
        parts=_AWARDS, scope=_BEFORE_RETENTION),
    "user_points": Check(
        "checks/user_points.sql",
        "select user_id, total_points, current_level, current_streak, longest_streak from user_points",
        {"total_points": ("num", 0), "current_level": ("num", 0), "current_streak": ("num", 0),
         "longest_streak": ("num", 0)},
        parts=_AWARDS, scope=_BEFORE_RETENTION),
    "achievements": Check(
        "checks/achievements.sql",
        "select user_id, count(*) as achievements, jsonb_agg(jsonb_build_object("
        "'achievement_id', achievement_id, 'earned_at', "
        "to_char(earned_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')) order by achievement_id) "
        "as earned from user_achievements where earned_at <= :t group by user_id",
        {"achievements": ("num", 0), "earned": ("json", 0)},
        parts=_AWARDS, scope=_RESULTS_RETIRED),
})
#: gamification table -> its check; T of user_points is the latest partition end processed
#: (:func:`gamification_as_of`), of the others the partition's end
GAMIFICATION_CHECKS = {"point_transactions": "points_ledger", "user_points": "user_points",
                       "user_achievements": "achievements"}
#: learner-analytics category -> its check (same name); aggregate view -> its check
AGGREGATE_CHECKS = {"peer_comparison_aggregates": "peer_comparison",
                    "skill_demand_aggregates": "skill_demand",
                    "leaderboard_weekly": "leaderboard_weekly",
                    "leaderboard_monthly": "leaderboard_monthly"}


def statement(name: str, every: int = 1, given: dict[str, str] | None = None) -> str:
    """The independent SQL of check ``name`` (parts composed in), restricted to the learner
    sample of 1 in ``every`` (1: everyone; group checks: always everyone, unless sampled on a
    group column: content effects, peer comparison). A check with ``sample_learners`` takes
    their ids as the parameter ``:sample_learners`` (:func:`independent_rows` reads them).
    ``given``: SQL text of parts computed before (the gamification awards' temp table)."""
    spec = CHECKS[name]
    text = sql_text(spec.sql)
    for part, source in {**spec.parts, **(given or {})}.items():
        value = sql_text(source) if source.endswith(".sql") else source
        text = text.replace("{" + part + "}", value)
    if spec.sample_learners and every > 1:
        return _SAMPLE.sub(lambda m: f"{m.group(1)} = any(cast(:sample_learners as text[]))", text)
    return sampled(text, every if spec.sampled_on else 1)


def _params(T: pd.Timestamp) -> dict:
    return {"t": T.to_pydatetime(), "kept": RETENTION_POLICY.activity_cutoff(T).to_pydatetime()}


def _set_local(conn: Connection, settings: tuple[tuple[str, str], ...], timeout_seconds: float | None) -> None:
    """``settings`` and (when given) ``statement_timeout`` for the rest of ``conn``'s transaction."""
    for setting, value in settings:
        conn.execute(sa.text(f"set local {setting} = '{value}'"))
    if timeout_seconds:
        conn.execute(sa.text(f"set local statement_timeout = {max(1, int(timeout_seconds * 1000))}"))


def independent_rows(engine: Bind, name: str, T: pd.Timestamp, every: int = 1,
                     timeout_seconds: float | None = None, given: dict[str, str] | None = None) -> pd.DataFrame:
    """The independent statement's rows; cancelled by PostgreSQL after ``timeout_seconds``
    (``statement_timeout`` of its own transaction) when given; with the check's ``settings``."""
    spec = CHECKS[name]
    with _connected(engine) as conn:
        _set_local(conn, spec.settings, timeout_seconds)
        params = _params(utc(T))
        if spec.sample_learners and every > 1:
            params["sample_learners"] = conn.execute(sa.text(sampled(spec.sample_learners, every))).scalars().all()
        return pd.read_sql_query(sa.text(statement(name, every, given)), conn, params=params)


def published_sql(name: str, every: int = 1) -> str:
    """The SQL of the published rows of check ``name``, restricted to the learner sample."""
    spec = CHECKS[name]
    if every <= 1 or not spec.sampled_on:
        return spec.published
    return f"select * from ({spec.published}) published where {in_sample('published.' + spec.sampled_on, every)}"


def published_rows(engine: Bind, name: str, T: pd.Timestamp, every: int = 1) -> pd.DataFrame:
    with _connected(engine) as conn:
        return pd.read_sql_query(sa.text(published_sql(name, every)), conn,
                                 params={"t": utc(T).to_pydatetime()})


def out_of_scope(engine: Bind, name: str, T: pd.Timestamp, every: int = 1) -> set[str]:
    """Keys the check leaves out on both sides (``Check.scope``), as compared keys: of the learner
    sample of 1 in ``every`` (1: everyone), the only keys the comparison holds (the scope of the
    whole platform read the whole ledger for the 1/n of it that counts)."""
    spec = CHECKS[name]
    if spec.scope is None:
        return set()
    with _connected(engine) as conn:
        rows = conn.execute(sa.text(sampled(spec.scope, every)), _params(utc(T))).all()
    return {"|".join(str(v) for v in row) for row in rows}


def _parsed(series: pd.Series) -> pd.Series:
    return series.map(lambda v: json.loads(v) if isinstance(v, str) else v)


def _long(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A JSON column in long form: one row per (key, position[, key]) with its scalar value(s)."""
    values = _parsed(frame.set_index("_key")[column])
    values = values.map(lambda v: [v] if isinstance(v, dict) and not _is_map(v) else v)
    values = values.map(lambda v: sorted(v.items()) if isinstance(v, dict) else v)
    exploded = values.explode().dropna()
    out = pd.DataFrame({"_key": exploded.index.to_numpy()})
    out["pos"] = out.groupby("_key").cumcount()
    items = exploded.tolist()
    if items and isinstance(items[0], dict):
        out = out.join(pd.DataFrame.from_records(items))
    elif items and isinstance(items[0], tuple):
        out = out.join(pd.DataFrame(items, columns=["key", "value"]))
    else:
        out["value"] = items
    return out


def _is_map(value: dict) -> bool:
    """A mapping of names to numbers (engagement_by_type, mastery_distribution) rather than one
    record (top_priority)."""
    return all(isinstance(v, (int, float)) for v in value.values())


def _missing(s: pd.Series) -> pd.Series:
    """Per value: None, a float NaN or NaT (not pd.NA)."""
    return pd.Series(_traits(s)[1], index=s.index)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT


def _traits(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(a number, missing) per value of ``s`` as ``Series.map`` presents the values (a NaN float
    is a number, and missing; a bool is neither). Issue 18: from the dtype where it tells (numpy
    floats, integers, booleans, pandas' NaN-missing ``str``) and in one pass over an object
    column, instead of a Python call per value and test: the JSON columns' fields of a
    5,000-learner sample are ~10^5 values, and these tests were most of a check's compare."""
    n = len(s)
    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.ones(n, dtype=bool), np.isnan(s.to_numpy())
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan:  # str or NaN
        missing = s.isna().to_numpy(dtype=bool)
        return missing.copy(), missing
    if dtype != object:  # any other dtype: value by value, as the values are presented
        return (s.map(_is_number).astype(bool).to_numpy(dtype=bool),
                s.map(_is_missing).astype(bool).to_numpy(dtype=bool))
    values = s.to_numpy(dtype=object)
    return (np.fromiter(map(_is_number, values), dtype=bool, count=n),
            np.fromiter(map(_is_missing, values), dtype=bool, count=n))


def _numbers(s: pd.Series, missing: np.ndarray | None = None) -> pd.Series:
    """The values as floats (missing ones NaN; text that reads as a number, a number)."""
    if missing is None:
        missing = _traits(s)[1]
    return pd.to_numeric(s.where(~missing), errors="coerce").astype(float)


def _column_mismatch(kind: str, tol, a: pd.Series, b: pd.Series, both: pd.DataFrame,
                     column: str) -> pd.Series:
    """Boolean per compared key: the two values differ (beyond the tolerance)."""
    none_a, none_b = _traits(a)[1], _traits(b)[1]
    one_missing = none_a ^ none_b
    if kind == "num":
        diff = (_numbers(a, none_a) - _numbers(b, none_b)).abs().fillna(0.0).to_numpy()
        return pd.Series(one_missing | (diff > tol + 1e-9), index=both.index)
    if kind == "ts":
        ta, tb = pd.to_datetime(a, utc=True), pd.to_datetime(b, utc=True)
        diff = ((ta - tb).abs() / pd.Timedelta(seconds=1)).fillna(0.0).to_numpy()
        return pd.Series(one_missing | (diff > tol), index=both.index)
    if kind == "exact":
        return pd.Series(one_missing | (~none_a & ~none_b & (a.astype(str) != b.astype(str)).to_numpy()),
                         index=both.index)
    la = _long(both[["_key"]].assign(**{column: a.to_numpy()}), column)
    lb = _long(both[["_key"]].assign(**{column: b.to_numpy()}), column)
    merged = la.merge(lb, on=["_key", "pos"], how="outer", suffixes=("_a", "_b"), indicator=True)
    wrong = (merged["_merge"] != "both").to_numpy().copy()
    for fld in [c[:-2] for c in merged.columns if c.endswith("_a")]:
        x, y = merged[f"{fld}_a"], merged[f"{fld}_b"]
        (nx, mx), (ny, my) = _traits(x), _traits(y)
        numeric = nx & ny
        # numbers compared as numbers, the other values as text: each test only on its own
        # values (issue 18: a field is mostly one or the other, and parsing every text field
        # as a number, or writing every number as text, was most of the JSON columns' compare)
        at = np.flatnonzero(numeric)
        if len(at):
            num_diff = (_numbers(x.iloc[at], mx[at]) - _numbers(y.iloc[at], my[at])).abs() \
                .fillna(0.0).to_numpy()
            wrong[at] |= num_diff > tol + 1e-9
        at = np.flatnonzero(~numeric)
        if len(at):
            xo, yo = x.iloc[at], y.iloc[at]
            wrong[at] |= ~((mx[at] & my[at]) | (xo.astype(str) == yo.astype(str)).to_numpy())
    bad_keys = set(merged.loc[wrong, "_key"])
    return both["_key"].isin(bad_keys)


def compare(columns: dict[str, tuple[str, float | None]], ours: pd.DataFrame, theirs: pd.DataFrame,
            keys: tuple[str, ...] = ("user_id",), examples: int = EXAMPLES) -> dict:
    """Key-by-key comparison of the published rows (``ours``) with the independent ones
    (``theirs``): per column the mismatch count and examples, the mismatching keys, and
    ``passed`` (no mismatch, the same keys on both sides)."""
    def keyed(frame):
        return frame.assign(_key=_key_strings(frame, keys).to_numpy())
    ours, theirs = keyed(ours), keyed(theirs)
    only_ours = sorted(set(ours["_key"]) - set(theirs["_key"]))
    only_check = sorted(set(theirs["_key"]) - set(ours["_key"]))
    both = ours[["_key", *columns]].merge(theirs[["_key", *columns]], on="_key",
                                         suffixes=("_published", "_check"))
    report = {"keys": list(keys), "published": len(ours), "independent": len(theirs),
              "compared": len(both), "only_published": only_ours[:examples],
              "only_published_count": len(only_ours), "only_independent": only_check[:examples],
              "only_independent_count": len(only_check), "columns": {}}
    bad_any = pd.Series(False, index=both.index)
    for column, (kind, tol) in columns.items():
        a, b = both[f"{column}_published"], both[f"{column}_check"]
        bad = _column_mismatch(kind, tol, a, b, both, column)
        bad_any |= bad
        entry = {"mismatches": int(bad.sum()), "tolerance": tol}
        if bad.any():
            sample = both.loc[bad, ["_key", f"{column}_published", f"{column}_check"]].head(examples)
            entry["examples"] = json.loads(sample.rename(columns={"_key": "key"}).to_json(
                orient="records", date_format="iso", default_handler=str))
        report["columns"][column] = entry
    mismatching = sorted(set(both.loc[bad_any, "_key"]) | set(only_ours) | set(only_check))
    report["mismatching_count"] = len(mismatching)
    report["mismatching"] = mismatching[:examples]
    report["passed"] = not mismatching
    return report


def check(engine: Bind, name: str, T: pd.Timestamp | None, max_learners: int | None = None,
          timeout_seconds: float | None = None, sample: Sample | None = None,
          given: dict[str, str] | None = None) -> dict:
    """Run check ``name`` at ``T``: the independent SQL against what was published, for every
    learner, or (a platform of more than ``max_learners`` users, per-learner checks) for the
    hash sample of :func:`learner_sample` on both sides (``sample`` in the report; or the
    ``sample`` given, read before). ``given``: parts of the statement computed before
    (:func:`statement`). ``engine`` a connection: every read in its transaction.

    ``T`` None (peer comparison without any unexpired snapshot): nothing may be published."""
    spec = CHECKS[name]
    if sample is None or not spec.sampled_on:
        sample = learner_sample(engine, max_learners) if spec.sampled_on else EVERYONE
    if T is None:
        T = pd.Timestamp.now(tz="UTC").floor("s")
        theirs = pd.DataFrame({c: pd.Series(dtype=object) for c in (*spec.keys, *spec.columns)})
    else:
        theirs = independent_rows(engine, name, T, sample.every, timeout_seconds, given)
    ours = published_rows(engine, name, T, sample.every)
    left_out = out_of_scope(engine, name, T, sample.every)
    if left_out:
        ours, theirs = (frame[~_key_strings(frame, spec.keys).isin(left_out).to_numpy()]
                        for frame in (ours, theirs))
    report = compare(spec.columns, ours, theirs, spec.keys)
    report = {"check": name, "snapshot_instant": utc(T).isoformat(), "out_of_scope": len(left_out),
              "sample": sample.as_dict() if not sample.complete else None, **report}
    for other in spec.with_checks:
        report = with_part(report, check(engine, other, T, max_learners, timeout_seconds))
    return report


def with_part(report: dict, part: dict) -> dict:
    """``report`` with the report of a check run with it (``Check.with_checks``) folded in:
    kept whole under ``parts``, its mismatching keys (prefixed with its name) and its verdict
    counted in the report's own."""
    bad = [f"{part['check']}:{k}" for k in part["mismatching"]]
    return {**report, "passed": report["passed"] and part["passed"],
            "mismatching_count": report["mismatching_count"] + part["mismatching_count"],
            "mismatching": (report["mismatching"] + bad)[:EXAMPLES],
            "parts": {**report.get("parts", {}), part["check"]: part}}


def _key_strings(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """Each row's key: its key columns as strings joined by ``|``, built column by column (a
    row-wise join took 9 s for the 16,000 entries of a monthly leaderboard). A missing key value
    is an error, as it was for the row-wise join."""
    if not len(frame):
        return pd.Series([], dtype=object)
    parts = frame[list(keys)].astype(str)
    if parts.isna().any().any():
        raise ValueError(f"a key column ({', '.join(keys)}) is missing in {int(parts.isna().any(axis=1).sum())} rows")
    key = parts.iloc[:, 0]
    for column in parts.columns[1:]:
        key = key + "|" + parts[column]
    return key.astype(object)


def check_or_error(engine: Engine, name: str, T: pd.Timestamp | None,
                   max_learners: int | None = None, timeout_seconds: float | None = None) -> dict:
    """:func:`check`, or (the check itself failing: SQL error, unreadable rows, the statement
    cancelled after ``timeout_seconds``) a failed report naming the error: a broken or slow check
    must not undo, hide or hold up what was published."""
    try:
        return check(engine, name, T, max_learners, timeout_seconds)
    except Exception as exc:  # reported as a failed check, never raised into the asset
        return _failed(name, T, exc, timeout_seconds)


def _failed(name: str, T: pd.Timestamp | None, exc: BaseException, timeout_seconds: float | None) -> dict:
    """The failed report of check ``name`` (a cancelled statement named as the time limit)."""
    if timeout_seconds and _cancelled(exc):
        exc = TimeoutError(
            f"the independent statement did not finish within {timeout_seconds:g} s "
            "(INDEPENDENT_CHECK_TIMEOUT_SECONDS) and was cancelled; run it without a limit with "
            f"python -m analytics_pipeline.warehouse.independent_check --database-url URL --at T {name}")
    return _error_report(name, T, exc)


def _cancelled(exc: BaseException | None) -> bool:
    """Whether PostgreSQL cancelled the statement (statement_timeout), however wrapped
    (SQLAlchemy's ``orig``, pandas' DatabaseError ``__cause__``)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, psycopg.errors.QueryCanceled) or isinstance(getattr(exc, "orig", None),
                                                                       psycopg.errors.QueryCanceled):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _error_report(name: str, T: pd.Timestamp | None, exc: BaseException) -> dict:
    at = utc(T).isoformat() if T is not None else None
    return {"check": name, "snapshot_instant": at, "keys": list(CHECKS[name].keys),
            "published": 0, "independent": 0, "compared": 0, "only_published": [],
            "only_published_count": 0, "only_independent": [], "only_independent_count": 0,
            "columns": {}, "mismatching_count": 0, "mismatching": [], "passed": False,
            "error": f"{type(exc).__name__}: {exc}"[:2000]}


def gamification_as_of(engine: Bind) -> pd.Timestamp | None:
    """The latest partition end the gamification processed: what user_points is computed as of."""
    with _connected(engine) as conn:
        value = conn.execute(sa.text("select cast(value #>> '{}' as timestamptz) from pipeline_settings "
                                     "where key = 'gamification_as_of'")).scalar()
    return None if value is None else utc(pd.Timestamp(value))


def gamification_report(engine: Engine, table: str, T: pd.Timestamp,
                        max_learners: int | None = None, timeout_seconds: float | None = None) -> dict:
    """The check of gamification ``table`` (point_transactions, user_points, user_achievements)
    after the partition of ``T`` was written: user_points as of the gamification's as-of (the
    latest partition end processed, T or later), the others at T. Never raises."""
    return gamification_reports(engine, [table], T, max_learners, timeout_seconds)[table]


#: the temp table of the sample's awards at one instant, shared by the gamification checks
_AWARDS_TABLE = "tmp_check_awards_{}"


def gamification_reports(engine: Engine, tables, T: pd.Timestamp | None, max_learners: int | None = None,
                         timeout_seconds: float | None = None) -> dict[str, dict]:
    """The checks of several gamification ``tables`` (as :func:`gamification_report`), sharing
    the awards: the sample's awards (``checks/gamification_awards.sql``, the most of each check)
    are computed once per instant into a temp table that every check's statement reads instead
    of recomputing them (user_points' as-of is T, but a backfill of an earlier day checks it at a
    later instant: its own awards). All in one REPEATABLE READ transaction, so the awards, the
    published rows and the scopes are one snapshot even while other steps write (retention,
    erasure). ``timeout_seconds`` limits each statement. Never raises: a failure fails the
    reports not made yet. Each report carries ``seconds``: its share of the time (the awards
    counted in the first report at their instant). ``T`` None (no partition was ever processed):
    failed reports."""
    names = {table: GAMIFICATION_CHECKS[table] for table in tables}
    if not names:
        return {}
    if T is None:
        return {table: _error_report(name, None, ValueError("no instant to check at: the gamification "
                                                          "processed no partition yet"))
                for table, name in names.items()}
    reports: dict[str, dict] = {}
    ats: dict[str, pd.Timestamp] = {}
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            # no JIT: with the awards a table of known size, the achievements statement is costed
            # above jit_above_cost and compiled (M: 4-7 s of JIT for an 8 s statement)
            _set_local(conn, SAMPLE_SCAN_SETTINGS, timeout_seconds)
            as_of = gamification_as_of(conn) if "user_points" in names.values() else None
            ats = {table: (as_of if name == "user_points" else None) or T for table, name in names.items()}
            sample = learner_sample(conn, max_learners)
            for i, at in enumerate(sorted(set(ats.values()))):
                started = time.perf_counter()
                awards = _AWARDS_TABLE.format(i)
                conn.execute(sa.text(f"create temp table {awards} on commit drop as "
                                     + sampled(sql_text(_AWARDS["awards"]), sample.every)), _params(utc(at)))
                conn.execute(sa.text(f"analyze {awards}"))
                for table in [t for t in names if ats[t] == at]:
                    report = check(conn, names[table], at, sample=sample,
                                   given={"awards": f"select * from {awards}"})
                    reports[table] = {**report, "seconds": round(time.perf_counter() - started, 3)}
                    started = time.perf_counter()
    except Exception as exc:  # reported as failed checks, never raised into the step
        for table, name in names.items():
            if table not in reports:
                reports[table] = _failed(name, ats.get(table, T), exc, timeout_seconds)
    return {table: reports[table] for table in names}


def nightly_max_learners() -> int:
    """The nightly's bound on the learners compared (settings ``independent_check_learners``)."""
    from analytics_pipeline.settings import load_settings

    return load_settings().independent_check_learners


def nightly_timeout_seconds() -> float:
    """The nightly's limit on one check statement (settings ``independent_check_timeout_seconds``)."""
    from analytics_pipeline.settings import load_settings

    return load_settings().independent_check_timeout_seconds


def latest_snapshot_instant(engine: Engine) -> pd.Timestamp | None:
    """T of the newest unexpired velocity snapshot: what the peer aggregates are made of."""
    with engine.connect() as conn:
        value = conn.execute(sa.text("select max(calculated_at) from learner_velocity_analytics "
                                     "where expires_at > now()")).scalar_one()
    return None if value is None else utc(pd.Timestamp(value))


def learners_compared(report: dict) -> str:
    """Which learners the report compared: every one, or the sample (N of M, the fraction)."""
    sample = report.get("sample")
    if not sample:
        return "every learner" if tuple(report.get("keys", ())) == ("user_id",) else "every group"
    spec = CHECKS.get(report.get("check"))
    if spec is not None and not spec.per_learner:  # a key sample (content effects: by skill)
        return f"every key of the {spec.sample_column} hash sample (1 in {sample['every']})"
    return (f"sampled {sample['sampled_learners']} of {sample['learners']} learners "
            f"(1 in {sample['every']}, {sample['fraction']:.1%})")


def summary(report: dict) -> str:
    """One line: what was compared and how many keys differ (with the columns that differ)."""
    bad = {c: e["mismatches"] for c, e in report["columns"].items() if e["mismatches"]}
    if "error" in report:
        return f"{report['check']} at {report['snapshot_instant']}: the check failed: {report['error']}"
    scope = f"{learners_compared(report)}: " if report.get("sample") else ""
    line = (f"{report['check']} at {report['snapshot_instant']}: {scope}{report['compared']} compared, "
            f"{report['mismatching_count']} mismatching "
            f"(published only {report['only_published_count']}, independent only "
            f"{report['only_independent_count']}{', columns ' + str(bad) if bad else ''}"
            f"{'; left out ' + str(report['out_of_scope']) if report.get('out_of_scope') else ''})")
    return "; ".join([line, *(summary(part) for part in report.get("parts", {}).values())])


def default_checks() -> list[str]:
    """Every check but those run inside another (``Check.with_checks``): each runs once."""
    inside = {part for spec in CHECKS.values() for part in spec.with_checks}
    return [name for name in CHECKS if name not in inside]


def check_all(engine: Engine, T: pd.Timestamp, names=None, max_learners: int | None = None) -> dict[str, dict]:
    """Every check (or ``names``) at the nightly's T, each with its run time (``seconds``): the
    peer comparison at the newest unexpired snapshot, user_points at the gamification's as-of;
    every learner, or the sample of :func:`learner_sample` above ``max_learners``. The
    gamification checks asked for run together (:func:`gamification_reports`: their awards once,
    counted in the first one's ``seconds``)."""
    names = list(names or default_checks())
    tables = {name: table for table, name in GAMIFICATION_CHECKS.items()}
    together = gamification_reports(engine, [tables[n] for n in names if n in tables], T, max_learners)
    reports = {}
    for name in names:
        if name in tables:
            reports[name] = together[tables[name]]
            continue
        at = latest_snapshot_instant(engine) if name == "peer_comparison" else T
        started = time.perf_counter()
        report = check_or_error(engine, name, at, max_learners)
        reports[name] = {**report, "seconds": round(time.perf_counter() - started, 3)}
    return reports


def main(argv: list[str] | None = None) -> int:
    """``python -m analytics_pipeline.warehouse.independent_check --database-url URL --at T``:
    every check on a warehouse (a kept benchmark database, a replay run), one line each."""
    import argparse

    from analytics_pipeline.warehouse.engine import make_engine

    parser = argparse.ArgumentParser(prog="python -m analytics_pipeline.warehouse.independent_check")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--at", required=True, help="the nightly's snapshot instant T (ISO, UTC)")
    parser.add_argument("--json", default=None, help="write the reports to this file")
    parser.add_argument("--max-learners", type=int, default=None,
                        help="compare a hash sample of about this many learners when the platform "
                             "has more (the nightly's independent_check_learners); default: everyone")
    parser.add_argument("names", nargs="*", help=f"checks to run (default all): {', '.join(CHECKS)}")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(CHECKS)
    if unknown:
        parser.error(f"unknown checks: {sorted(unknown)}")
    reports = check_all(make_engine(args.database_url), utc(pd.Timestamp(args.at)), args.names or None,
                        args.max_learners)
    for report in reports.values():
        print(f"{summary(report)} [{report['seconds']} s]")
    if args.json:
        with open(args.json, "w") as sink:
            json.dump(reports, sink, indent=2, default=str)
    return 0 if all(r["passed"] for r in reports.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
