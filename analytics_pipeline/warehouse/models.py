"""Stored models (``predictive_models``): JSON documents of one kind, valid from ``calculated_at``
until ``expires_at``. Shared by the stores that train or measure something once and reuse it:
the predictive layer's drop-off and recommendation models, and the content-item effects that
learner analytics measures for content effectiveness and recommendations reuse (:data:`ITEM_EFFECTS`).
"""
from __future__ import annotations

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: The kind under which content effectiveness stores the item effects it measured at T.
ITEM_EFFECTS = "item_effects"
#: The columns of the stored item effects (``{"effects": {column: [values]}}``) and their dtypes.
ITEM_EFFECT_DTYPES = {"content_id": "str", "skill_id": "str", "effect": "float64"}
#: The columns of the content-type effects stored with them (``{"type_effects": {...}}``).
TYPE_EFFECT_DTYPES = {"content_type": "str", "skill_id": "str", "effect": "float64"}


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
