"""The predictive layer's warehouse side: which learners need a new cache row, stored models,
and COPY reads of a learner set in hash-bucket chunks (docs/predictive.md). No Dagster here.

A run works inside one connection with a temporary table ``pg_temp.predictive_learners``
(:func:`learner_set`): filled with the learners to compute (``learners_stale.sql``), the
drop-off training sample or every learner (``learners_all.sql``), and every chunked query of
``sql/queries/predictive/`` reads the learners of hash bucket ``i`` of ``n`` of that table
(``mod(abs(hashtext(user_id)::bigint), n) = i``, as ``warehouse/learner_snapshots.py``), so
a learner's rows of every input land in the same chunk and one chunk is in memory at a time.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics_pipeline.predictive.cache_rows import KINDS
from analytics_pipeline.warehouse.bulk import read_copy, read_frame, sql_text

DEFAULT_CHUNK_LEARNERS = 20_000
# Per kind: which inputs besides learning events and enrollments make a cached row stale.
STALE_INPUTS = {
    "drop_off_risk": {"results": True, "skills": False, "catalog": False},
    "forecast": {"results": False, "skills": False, "catalog": False},
    "recommendations": {"results": False, "skills": True, "catalog": True},
}


def _bound(params: dict) -> dict:
    return {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in params.items()}


def query(conn: Connection, name: str, **params) -> pd.DataFrame:
    """``sql/queries/predictive/<name>.sql`` through COPY (:func:`~.bulk.read_copy`)."""
    return read_copy(conn, sql_text(f"predictive/{name}.sql"), _bound(params))


def catalog(conn: Connection, name: str) -> pd.DataFrame:
    """A small catalog query (arrays/json as Python objects)."""
    return read_frame(conn, sql_text(f"predictive/{name}.sql"))


class LearnerSet:
    """The rows of ``pg_temp.predictive_learners`` and their chunks."""

    def __init__(self, conn: Connection, chunk_learners: int):
        self.conn, self.chunk_learners, self.count = conn, max(1, chunk_learners), 0

    def _fill(self, sql: str, params: dict) -> int:
        self.conn.execute(sa.text("truncate pg_temp.predictive_learners"))
        self.conn.execute(sa.text(sql_text(f"predictive/{sql}.sql")), _bound(params))
        self.conn.execute(sa.text("analyze pg_temp.predictive_learners"))
        self.count = self.conn.execute(sa.text("select count(*) from pg_temp.predictive_learners")).scalar_one()
        return self.count

    def stale(self, kind: str, T: pd.Timestamp) -> int:
        """The learners active at T without a fresh cache row of ``kind`` (``learners_stale.sql``)."""
        return self._fill("learners_stale", {"kind": kind, "t": T, "pref_key": KINDS[kind], **STALE_INPUTS[kind]})

    def enrolled(self, T: pd.Timestamp, sample_learners: int | None = None) -> int:
        """Every learner enrolled by T, or a hash sample of about ``sample_learners`` of them."""
        self._fill("learners_all", {"t": T, "n": 1})
        if sample_learners and self.count > sample_learners:
            self._fill("learners_all", {"t": T, "n": math.ceil(self.count / sample_learners)})
        return self.count

    def chunks(self) -> Iterator[dict]:
        """``{"n", "i"}`` for each chunk of about ``chunk_learners`` learners (none when empty)."""
        n = max(1, math.ceil(self.count / self.chunk_learners))
        for i in range(n if self.count else 0):
            yield {"n": n, "i": i}

    def ids(self) -> pd.Index:
        return pd.Index(read_frame(self.conn, "select user_id from pg_temp.predictive_learners")["user_id"],
                        dtype="str", name="user_id")


@contextmanager
def learner_set(engine: Engine, chunk_learners: int = DEFAULT_CHUNK_LEARNERS) -> Iterator[LearnerSet]:
    """One connection (transaction) with an empty ``pg_temp.predictive_learners``."""
    with engine.begin() as conn:
        conn.execute(sa.text("create temp table predictive_learners (user_id text primary key) on commit drop"))
        yield LearnerSet(conn, chunk_learners)


def load_model(conn: Connection, kind: str, T: pd.Timestamp) -> dict | None:
    """The newest stored model of ``kind`` valid at T (calculated_at <= T < expires_at)."""
    row = conn.execute(sa.text(
        "select model, calculated_at from predictive_models where analytics_type = :k "
        "and calculated_at <= :t and expires_at > :t order by calculated_at desc limit 1"),
        {"k": kind, "t": T.to_pydatetime()}).first()
    return None if row is None else {**row[0], "trained_at": pd.Timestamp(row[1]).isoformat()}


def save_model(engine: Engine, kind: str, T: pd.Timestamp, model: dict, ttl: pd.Timedelta) -> None:
    """Store ``model`` (JSON-serialisable, numpy allowed) as the model of ``kind`` at T."""
    payload = orjson.dumps(model, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into predictive_models (analytics_type, calculated_at, expires_at, model) "
            "values (:k, :t, :e, cast(:m as jsonb)) on conflict (analytics_type, calculated_at) "
            "do update set expires_at = excluded.expires_at, model = excluded.model"),
            {"k": kind, "t": T.to_pydatetime(), "e": (T + ttl).to_pydatetime(), "m": payload})
        conn.execute(sa.text("delete from predictive_models where analytics_type = :k and expires_at <= :t"),
                     {"k": kind, "t": T.to_pydatetime()})
