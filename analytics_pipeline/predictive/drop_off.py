"""Drop-off risk: probability that a learner active at T has no learning event in (T, T+14d].

Training data (no leakage)
    Every input is first restricted to what was known at ``T`` (:func:`restrict_to_known`):
    events/results with their own timestamp and ``updated_at`` <= T, enrollments enrolled
    by T with later completion/withdrawal dates blanked. Snapshot instants are
    ``t_k = T - horizon - k * step`` (k = 0 .. ``max_snapshots`` - 1, step 7 days, not before
    the first enrollment), so every label window ``(t_k, t_k + horizon]`` is fully observed by
    T. Features at ``t_k`` are :func:`~.features.build_features` at ``t_k`` (rows <= t_k only);
    labels are :func:`~.features.build_labels` at ``t_k``.

Time-split evaluation
    Test = the newest ``test_snapshots`` snapshot(s). Train = older snapshots whose labels
    were observed by the oldest test instant (``t_i + horizon <= t_test``, a purge gap so the
    evaluation is what the model would have done if run at ``t_test``). Reported: ROC AUC,
    Brier score, a decile calibration table (mean predicted vs observed), train/test rows,
    and the heuristic's AUC/Brier on the same test rows.

Model
    ``SimpleImputer(median) -> StandardScaler -> LogisticRegression(C)`` (logistic regression
    with log-loss is calibrated on its training distribution; the calibration table checks it
    on held-out history). After evaluation the model is refit on all eligible snapshots and
    applied to the features at T. ``confidence_score = clip((AUC - 0.5) / 0.5, 0, 1) * 100``
    with the held-out AUC (0 for a model no better than chance, 100 for a perfect ranking).
    Per learner ``top_reasons``: the ``top_reasons`` features with the largest
    ``|coef * standardized value|``, as ``"<feature>: raises risk"`` / ``"...: lowers risk"``.

Heuristic (too little history)
    Used when there are fewer than ``min_snapshots`` eligible snapshots, fewer than
    ``min_train_rows`` training / ``min_test_rows`` test rows, a single class in train or test,
    or (``require_beating_heuristic``) the model's held-out AUC does not beat the heuristic's:
    ``p = sigmoid(-2.0 + 0.25 * days_since_last_activity - 0.5 * active_days_14d)``
    (0 days inactive with 5 active days: 1 %; 14 days inactive: 82 %). Its confidence is
    ``heuristic_confidence`` (20), or less when its own held-out AUC maps lower.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scikit-learn is imported where a model is fitted or scored (~2 s per import):
    from sklearn.pipeline import Pipeline  # every Dagster step process imports this module

from .features import (
    FeatureConfig,
    _utc,
    as_instant,
    build_features,
    build_labels,
    feature_columns,
    known_at,
)

OUTPUT_COLUMNS = ["user_id", "probability", "confidence_score", "top_reasons", "method"]


@dataclass(frozen=True)
class DropOffConfig:
    horizon_days: int = 14
    snapshot_step_days: int = 7
    max_snapshots: int = 26
    test_snapshots: int = 1
    min_snapshots: int = 3
    min_train_rows: int = 100
    min_test_rows: int = 30
    C: float = 1.0
    require_beating_heuristic: bool = True
    heuristic_intercept: float = -2.0
    heuristic_inactive_coef: float = 0.25
    heuristic_active_days_coef: float = -0.5
    heuristic_confidence: float = 20.0
    top_reasons: int = 3
    calibration_bins: int = 10
    features: FeatureConfig = field(default_factory=FeatureConfig)


def restrict_to_known(events, enrollments, results, T):
    """The three inputs as known at ``T`` (see module docstring)."""
    T = as_instant(T)
    ev = known_at(events, "occurred_at", T)
    res = known_at(results, "submitted_at", T)
    enr = enrollments.assign(
        enrolled_at=_utc(enrollments["enrolled_at"]),
        completed_at=_utc(enrollments["completed_at"]),
        withdrawn_at=_utc(enrollments["withdrawn_at"]),
    )
    enr = enr.loc[(enr["enrolled_at"] <= T).fillna(False).to_numpy(dtype=bool)]
    enr = enr.assign(
        completed_at=enr["completed_at"].where(enr["completed_at"] <= T),
        withdrawn_at=enr["withdrawn_at"].where(enr["withdrawn_at"] <= T),
    )
    return ev, enr, res


def snapshot_instants(T, earliest, config: DropOffConfig = DropOffConfig()) -> list[pd.Timestamp]:
    """Labelled snapshot instants, newest first: ``T - horizon - k * step`` >= ``earliest``."""
    T = as_instant(T)
    if earliest is None or pd.isna(earliest):
        return []
    earliest = as_instant(earliest)
    first = T - pd.Timedelta(days=config.horizon_days)
    step = pd.Timedelta(days=config.snapshot_step_days)
    out = [first - k * step for k in range(config.max_snapshots)]
    return [t for t in out if t >= earliest]


def build_training_set(events, enrollments, results, instants, config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    """Feature rows at each instant with their label; columns snapshot, user_id, features, label."""
    cols = feature_columns(config.features)
    frames = []
    for t in instants:  # one iteration per snapshot instant, never per learner
        X = build_features(events, enrollments, results, t, config.features)
        if X.empty:
            continue
        y = build_labels(events, X.index, t, config.horizon_days)
        frames.append(X.assign(label=y.reindex(X.index).to_numpy(), snapshot=t).reset_index())
    if not frames:
        return pd.DataFrame(columns=["snapshot", "user_id", *cols, "label"])
    return pd.concat(frames, ignore_index=True)[["snapshot", "user_id", *cols, "label"]]


def heuristic_contributions(X: pd.DataFrame, config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    """The heuristic's logit terms per learner (columns are the features it uses)."""
    return pd.DataFrame(
        {
            "days_since_last_activity": config.heuristic_inactive_coef * X["days_since_last_activity"].astype(float),
            "active_days_14d": config.heuristic_active_days_coef * X["active_days_14d"].astype(float),
        },
        index=X.index,
    )


def heuristic_probability(X: pd.DataFrame, config: DropOffConfig = DropOffConfig()) -> pd.Series:
    logit = config.heuristic_intercept + heuristic_contributions(X, config).sum(axis=1)
    return pd.Series(1.0 / (1.0 + np.exp(-logit.to_numpy(dtype=float))), index=X.index, name="probability")


def _fit(X: pd.DataFrame, y: np.ndarray, config: DropOffConfig) -> Pipeline:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=config.C, max_iter=2000)),
        ]
    )
    return model.fit(X.to_numpy(dtype=float), y)


def top_reasons(contrib: pd.DataFrame, k: int) -> list[list[str]]:
    """Per row, the k largest |contribution| features as 'name: raises/lowers risk'."""
    if contrib.empty:
        return []
    C = contrib.to_numpy(dtype=float)
    order = np.argsort(-np.abs(C), axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(C, order, axis=1)
    names = np.asarray(contrib.columns, dtype=object)[order]
    text = names + np.where(vals > 0, ": raises risk", ": lowers risk").astype(object)
    return text.tolist()


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Decile (quantile) bins of the predicted probability: mean predicted vs observed rate."""
    df = pd.DataFrame({"p": p, "y": y.astype(float)})
    df["bin"] = pd.qcut(df["p"].rank(method="first"), q=min(bins, len(df)), labels=False)
    g = df.groupby("bin").agg(mean_predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    g = g.reset_index().astype({"bin": int, "n": int})
    return g.round({"mean_predicted": 4, "observed": 4}).to_dict("records")


def evaluate(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    two = 0 < y.sum() < len(y)
    return {
        "auc": float(roc_auc_score(y, p)) if two else None,
        "brier": float(brier_score_loss(y, p)) if len(y) else None,
        "calibration": calibration_table(y, p, bins) if len(y) else [],
    }


def auc_confidence(auc) -> float:
    """clip((AUC - 0.5) / 0.5, 0, 1) * 100, two decimals; 0 when AUC is unknown."""
    if auc is None or not np.isfinite(auc):
        return 0.0
    return round(float(np.clip((auc - 0.5) / 0.5, 0.0, 1.0) * 100.0), 2)


def _output(users: pd.Index, prob: pd.Series, confidence: float, reasons: list, method: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.Series(users, dtype="str"),
            "probability": prob.reindex(users).to_numpy(dtype=float),
            "confidence_score": np.full(len(users), round(float(confidence), 2)),
            "top_reasons": pd.Series(reasons, dtype=object) if len(users) else pd.Series([], dtype=object),
            "method": method,
        }
    )[OUTPUT_COLUMNS]


def model_params(model: Pipeline, cols: list[str]) -> dict:
    """The fitted pipeline as plain numbers (JSON): imputation fill, scaler, coefficients.

    ``p = sigmoid(intercept + sum(coef * (x_filled - mean) / scale))`` is exactly the
    pipeline's ``predict_proba``; a stored model scores later runs without scikit-learn.
    """
    return {
        "features": list(cols),
        "fill": np.nan_to_num(model[0].statistics_.astype(float), nan=0.0).tolist(),
        "mean": model[1].mean_.tolist(),
        "scale": model[1].scale_.tolist(),
        "coef": model[-1].coef_[0].tolist(),
        "intercept": float(model[-1].intercept_[0]),
    }


def linear_contributions(params: dict, X: pd.DataFrame) -> pd.DataFrame:
    """coef * standardized (imputed) value per learner and feature (:func:`model_params`)."""
    cols = params["features"]
    A = X[cols].to_numpy(dtype=float)
    A = np.where(np.isnan(A), np.asarray(params["fill"], dtype=float), A)
    Z = (A - np.asarray(params["mean"], dtype=float)) / np.asarray(params["scale"], dtype=float)
    return pd.DataFrame(Z * np.asarray(params["coef"], dtype=float), index=X.index, columns=cols)


def linear_probability(params: dict, X: pd.DataFrame) -> pd.Series:
    logit = params["intercept"] + linear_contributions(params, X).sum(axis=1).to_numpy(dtype=float)
    return pd.Series(1.0 / (1.0 + np.exp(-logit)), index=X.index, name="probability")


def train_drop_off(events, enrollments, results, T, config: DropOffConfig = DropOffConfig()) -> dict:
    """Train and evaluate on the labelled history before ``T`` (module docstring).

    Returns the model as plain data: ``{"method": "model"|"heuristic", "confidence_score",
    "params"`` (:func:`model_params`, None for the heuristic) ``, "evaluation"}``; it can be
    stored and applied later by :func:`score_drop_off`.
    """
    T = as_instant(T)
    cols = feature_columns(config.features)
    ev, enr, res = restrict_to_known(events, enrollments, results, T)
    earliest = enr["enrolled_at"].min() if len(enr) else None
    instants = snapshot_instants(T, earliest, config)
    data = build_training_set(ev, enr, res, instants, config)
    del ev, enr, res
    test_instants = instants[: config.test_snapshots]
    oldest_test = min(test_instants) if test_instants else None
    horizon = pd.Timedelta(days=config.horizon_days)
    if oldest_test is not None:
        is_test = data["snapshot"].isin(test_instants).to_numpy()
        is_train = (data["snapshot"] + horizon <= oldest_test).to_numpy()
    else:
        is_test = is_train = np.zeros(len(data), dtype=bool)
    train, test = data.loc[is_train], data.loc[is_test]
    y_train = train["label"].to_numpy(dtype=bool)
    y_test = test["label"].to_numpy(dtype=bool)

    evaluation: dict = {
        "as_of": T.isoformat(),
        "horizon_days": config.horizon_days,
        "snapshots": [t.isoformat() for t in instants],
        "train_snapshots": sorted(t.isoformat() for t in train["snapshot"].unique()),
        "test_snapshots": sorted(t.isoformat() for t in test_instants),
        "train_rows": int(len(train)),
        "test_rows": int(len(test)),
        "train_positive_rate": float(y_train.mean()) if len(y_train) else None,
        "test_positive_rate": float(y_test.mean()) if len(y_test) else None,
        "features": cols,
    }
    heur_eval = (
        evaluate(y_test, heuristic_probability(test[cols], config).to_numpy(), config.calibration_bins)
        if len(test)
        else {"auc": None, "brier": None, "calibration": []}
    )
    evaluation["heuristic"] = heur_eval

    reason = None
    if len(instants) < config.min_snapshots:
        reason = f"only {len(instants)} labelled snapshots (< {config.min_snapshots})"
    elif len(train) < config.min_train_rows or len(test) < config.min_test_rows:
        reason = f"too few rows (train {len(train)}, test {len(test)})"
    elif len(np.unique(y_train)) < 2 or len(np.unique(y_test)) < 2:
        reason = "a single class in train or test labels"

    model_eval = None
    if reason is None:
        held_out = _fit(train[cols], y_train, config)
        model_eval = evaluate(y_test, held_out.predict_proba(test[cols].to_numpy(dtype=float))[:, 1], config.calibration_bins)
        evaluation["model"] = model_eval
        h_auc = heur_eval["auc"] if heur_eval["auc"] is not None else 0.5
        if config.require_beating_heuristic and model_eval["auc"] <= h_auc:
            reason = "model did not beat the heuristic on held-out history"

    params = None
    if reason is None:
        final = _fit(data[cols], data["label"].to_numpy(dtype=bool), config)
        params = model_params(final, cols)
        evaluation["coefficients"] = dict(zip(cols, np.round(final[-1].coef_[0], 4).tolist()))
        method, confidence = "model", auc_confidence(model_eval["auc"])
    else:
        method = "heuristic"
        confidence = config.heuristic_confidence
        if heur_eval["auc"] is not None:
            confidence = min(confidence, auc_confidence(heur_eval["auc"]))
        evaluation["heuristic_reason"] = reason
    evaluation.update({"method": method, "confidence_score": round(float(confidence), 2),
                       "auc": (model_eval or {}).get("auc") if method == "model" else heur_eval["auc"],
                       "brier": (model_eval or {}).get("brier") if method == "model" else heur_eval["brier"]})
    return {"method": method, "confidence_score": round(float(confidence), 2), "params": params,
            "evaluation": evaluation}


def score_drop_off(model: dict, events, enrollments, results, T, config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    """Apply a :func:`train_drop_off` model to the learners active at ``T`` in the given frames
    (any subset of learners: features are per learner)."""
    T = as_instant(T)
    ev, enr, res = restrict_to_known(events, enrollments, results, T)
    X_now = build_features(ev, enr, res, T, config.features)
    users = X_now.index
    if not len(users):
        return _output(users, pd.Series(dtype=float), model["confidence_score"], [], model["method"])
    if model["method"] == "model":
        prob = linear_probability(model["params"], X_now)
        reasons = top_reasons(linear_contributions(model["params"], X_now), config.top_reasons)
    else:
        prob = heuristic_probability(X_now, config)
        reasons = top_reasons(heuristic_contributions(X_now, config), config.top_reasons)
    return _output(users, prob, model["confidence_score"], reasons, model["method"])


def predict_drop_off(events, enrollments, results, T, config: DropOffConfig = DropOffConfig()):
    """Drop-off probability per learner active at T, and the evaluation report.

    Returns ``(frame[user_id, probability, confidence_score, top_reasons, method], evaluation)``.
    """
    model = train_drop_off(events, enrollments, results, T, config)
    return score_drop_off(model, events, enrollments, results, T, config), model["evaluation"]
