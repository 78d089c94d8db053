"""Rows of ``predictive_analytics_cache`` from the three predictive outputs, honouring opt-outs.

``to_cache_rows(kind, frame, T, preferences)`` returns ``user_id, analytics_type, data (dict),
confidence_score, calculated_at (= T), expires_at (= T + 48 h)``, one row per learner, with
``analytics_type = kind`` in {'drop_off_risk', 'forecast', 'recommendations'}.

* ``drop_off_risk``: ``frame`` is :func:`~.drop_off.predict_drop_off`'s frame; ``data`` =
  ``{"probability", "risk_level", "top_reasons", "method", "target", "enrollments"}`` with
  risk_level ``high`` (p >= 0.6 *and* confidence_score >= ``min_confidence`` 60: a prediction
  whose confidence is under the threshold is never called high), ``medium`` (>= 0.3, or a
  capped high), else ``low``; ``enrollments`` = per active enrollment ``course_id,
  probability, position, weeks_enrolled`` (the learner's probability is their highest).
* ``forecast`` / ``recommendations``: ``frame`` has ``user_id, data, confidence_score``
  (:func:`~.forecast.forecast_completion`, :func:`~.recommendations.recommend_next`).

Opt-out: ``preferences`` is ``user_preferences`` (``user_id, predictive_analytics_enabled``,
a dict or JSON text ``{"dropOffRisk", "forecasting", "recommendations"}``). A learner whose
key for the kind is false (``False``, ``"false"``, ``0``) gets no row; a missing preference
row, a null JSON or a missing key means enabled. :func:`opted_out_users` lists who opted
out, so the writer can delete their existing rows of that kind.
``confidence_score`` is clipped to [0, 100] and rounded to 2 decimals (numeric(5,2)).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import as_instant

KINDS = {"drop_off_risk": "dropOffRisk", "forecast": "forecasting", "recommendations": "recommendations"}
CACHE_COLUMNS = ["user_id", "analytics_type", "data", "confidence_score", "calculated_at", "expires_at"]


@dataclass(frozen=True)
class CacheConfig:
    ttl_hours: int = 48
    high_risk: float = 0.6
    medium_risk: float = 0.3
    min_confidence: float = 60.0  # confidence_score under this: never "high" (Moodle drops predictions under 0.6)
    target: str = "enrollment ends without completion"


def lists_by_user(records: list, users) -> pd.Series:
    """The records grouped into one list per user (in their order), indexed by the sorted users.

    Vectorised replacement of ``pd.Series(records, index=users).groupby(level=0).agg(list)``
    (which slices the frame once per learner).
    """
    users = np.asarray(users, dtype=object)
    if not len(users):
        return pd.Series([], dtype=object)
    order = np.argsort(users, kind="stable")
    u = users[order]
    recs = np.empty(len(records), dtype=object)
    recs[:] = records
    recs = recs[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    return pd.Series([part.tolist() for part in np.split(recs, starts[1:])], index=u[starts], dtype=object)


def _parse(value) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _disabled(flag) -> bool:
    if flag is None:
        return False
    if isinstance(flag, str):
        return flag.strip().lower() in {"false", "0", "no", "off"}
    return flag is False or (isinstance(flag, (int, float, np.bool_)) and not bool(flag))


def opted_out_users(kind: str, preferences: pd.DataFrame | None) -> pd.Index:
    """User ids whose preferences turn ``kind`` off."""
    key = KINDS[kind]
    if preferences is None or preferences.empty:
        return pd.Index([], dtype="str", name="user_id")
    flags = preferences["predictive_analytics_enabled"].map(_parse).map(lambda d: d.get(key))
    off = flags.map(_disabled).astype(bool)
    return pd.Index(preferences.loc[off.to_numpy(), "user_id"].astype(str).unique(), name="user_id")


def risk_levels(probability: pd.Series, confidence, config: CacheConfig = CacheConfig()) -> np.ndarray:
    """high / medium / low (module docstring): high needs p >= high_risk and confidence >= min_confidence."""
    p = np.asarray(probability, dtype=float)
    confident = np.asarray(confidence, dtype=float) >= config.min_confidence
    return np.where((p >= config.high_risk) & confident, "high", np.where(p >= config.medium_risk, "medium", "low"))


def _drop_off_data(frame: pd.DataFrame, config: CacheConfig) -> pd.Series:
    p = frame["probability"].astype(float)
    level = risk_levels(p, frame["confidence_score"].astype(float), config)
    enrollments = frame["enrollments"] if "enrollments" in frame.columns else pd.Series([[]] * len(frame), index=frame.index)
    records = pd.DataFrame(
        {
            "probability": p.round(4).astype(object),
            "risk_level": pd.Series(level, index=frame.index, dtype=object),
            "top_reasons": frame["top_reasons"].map(list).astype(object),
            "method": frame["method"].astype(object),
            "target": config.target,
            "enrollments": enrollments.map(lambda e: list(e) if isinstance(e, (list, tuple, np.ndarray)) else []).astype(object),
        },
        index=frame.index,
    ).to_dict("records")
    return pd.Series(records, index=frame.index, dtype=object)


def to_cache_rows(kind: str, frame: pd.DataFrame, T, preferences: pd.DataFrame | None = None,
                  config: CacheConfig = CacheConfig()) -> pd.DataFrame:
    if kind not in KINDS:
        raise ValueError(f"unknown analytics_type {kind!r}; expected one of {sorted(KINDS)}")
    T = as_instant(T)
    f = frame.loc[~frame["user_id"].astype(str).isin(opted_out_users(kind, preferences))].reset_index(drop=True)
    data = _drop_off_data(f, config) if kind == "drop_off_risk" else f["data"].astype(object)
    return pd.DataFrame(
        {
            "user_id": f["user_id"].astype("str"),
            "analytics_type": pd.Series(kind, index=f.index, dtype="str"),
            "data": data.reset_index(drop=True) if len(f) else pd.Series([], dtype=object),
            "confidence_score": f["confidence_score"].astype(float).clip(0.0, 100.0).round(2),
            "calculated_at": pd.Series(T, index=f.index, dtype="datetime64[us, UTC]"),
            "expires_at": pd.Series(T + pd.Timedelta(hours=config.ttl_hours), index=f.index, dtype="datetime64[us, UTC]"),
        }
    )[CACHE_COLUMNS]
