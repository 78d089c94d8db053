"""Drop-off risk: the probability that an enrollment active at T ends without completion.

Target, labels and features: :mod:`.course_features` (withdrawn, or never completed: the
scheduled run ended / self-paced idle for 30 days; course-relative features at the same
position of the run). Everything is first cut to what was known at ``T``.

Training and held-out evaluation (:func:`train_drop_off`)
    Rows: the platform's finished enrollments at the positions (weeks) the current ones are
    at. Out-of-fold predictions: folds grouped by course (leave-courses-out, so a score is
    what the model does on a course it has not seen) when the history has >= 3 courses, else
    grouped by enrollment. Candidates, each ``SimpleImputer(median) -> StandardScaler ->
    LogisticRegression`` then a Platt calibration cross-fitted on the other folds' scores:
    the **model** (``MODEL_FEATURES``; its regularisation C from ``C_grid`` by the best out-of-fold
    AUC on the history) and one **baseline** per single feature (the feature itself, missing
    values at the training median, its sign learnt on the training folds, then the same Platt
    calibration). Every candidate is
    scored on the same rows: AUC, Brier, decile calibration table; the base rate's Brier
    (each fold's training rate) is the reference.

Gates (``evaluation["method"]``, ``evaluation["reason"]``)
    ``model`` when its AUC >= 0.5 + ``auc_margin`` AND above the best baseline's AUC AND its
    Brier <= the base rate's; else the best ``baseline:<feature>`` when it passes the same
    chance and Brier gates; else ``base_rate`` (the history's drop-out rate, confidence 0).
    Without labels to learn from (no finished enrollment, fewer than ``min_rows`` rows or
    ``min_class_rows`` of a class, one class only) the ``prior`` is served: a documented,
    unvalidated rule with confidence 0 (:func:`prior_probability`). A platform without due
    dates has no deadline features; the gates decide on the rest (``evaluation["notes"]``).

Serving
    The chosen candidate is refit on every row (the calibration on the out-of-fold scores)
    and stored as plain numbers (no scikit-learn needed to score). ``confidence_score`` =
    100 x the served candidate's held-out AUC (0 for ``base_rate`` and ``prior``).
    ``top_reasons``: the 3 features with the largest ``|coef x standardized value|``.
    Per learner (:func:`learner_risk`): the highest probability over their active enrollments,
    with every enrollment's detail. The cohort means (the ``_rel`` features) are those of every
    enrollment active at ``T``, also when only some learners are scored (``cohort_means``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # scikit-learn is imported where a model is fitted (~2 s per import)
    from sklearn.pipeline import Pipeline

from .cache_rows import lists_by_user
from .course_features import (
    FEATURES,
    MODEL_FEATURES,
    CourseFeatureConfig,
    build_row_features,
    cohort_means_of,
    cohort_parts,
    finish_row_features,
    known_inputs,
    raw_row_features,
    outcomes,
    scoring_rows,
    training_rows,
    with_runs,
)
from .features import as_instant

OUTPUT_COLUMNS = ["user_id", "probability", "confidence_score", "top_reasons", "method", "enrollments"]
ENROLLMENT_COLUMNS = ["user_id", "course_id", "probability", "position", "weeks_enrolled", "top_reasons"]


@dataclass(frozen=True)
class DropOffConfig:
    min_rows: int = 100
    min_class_rows: int = 10
    folds: int = 5
    auc_margin: float = 0.05
    C_grid: tuple[float, ...] = (0.01, 0.1, 1.0)  # the model's regularisation: the best held-out AUC on the history
    top_reasons: int = 3
    calibration_bins: int = 10
    prior_base: float = 0.1  # the prior when nothing is known: 10 % ...
    prior_missed_weight: float = 0.6  # ... + 60 % x the share of passed deadlines missed ...
    prior_idle_weight: float = 0.3  # ... + 30 % x min(1, days idle / inactive_days)
    features: CourseFeatureConfig = field(default_factory=CourseFeatureConfig)


#: The scikit-learn modules :func:`_fit` imports (orchestration/warmup.py imports them ahead).
FIT_MODULES = ("sklearn.impute", "sklearn.linear_model", "sklearn.pipeline", "sklearn.preprocessing")


def _fit(X: np.ndarray, y: np.ndarray, C: float) -> Pipeline:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                      ("scale", StandardScaler()), ("logit", LogisticRegression(C=C, max_iter=2000))])
    return model.fit(X, y)


def model_params(model: Pipeline, cols: list[str]) -> dict:
    """The fitted pipeline as plain numbers (JSON): imputation fill, scaler, coefficients."""
    return {
        "features": list(cols),
        "fill": np.nan_to_num(model[0].statistics_.astype(float), nan=0.0).tolist(),
        "mean": model[1].mean_.tolist(),
        "scale": model[1].scale_.tolist(),
        "coef": model[-1].coef_[0].tolist(),
        "intercept": float(model[-1].intercept_[0]),
    }


def linear_contributions(params: dict, X: pd.DataFrame) -> pd.DataFrame:
    """coef * standardized (imputed) value per row and feature (:func:`model_params`)."""
    cols = params["features"]
    A = X[cols].to_numpy(dtype=float)
    A = np.where(np.isnan(A), np.asarray(params["fill"], dtype=float), A)
    Z = (A - np.asarray(params["mean"], dtype=float)) / np.asarray(params["scale"], dtype=float)
    return pd.DataFrame(Z * np.asarray(params["coef"], dtype=float), index=X.index, columns=cols)


def _sigmoid(z) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=float), -500, 500)))


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def linear_probability(params: dict, X: pd.DataFrame) -> pd.Series:
    """The stored candidate's calibrated probability (Platt ``a * logit + b`` when present)."""
    logit = params["intercept"] + linear_contributions(params, X).sum(axis=1).to_numpy(dtype=float)
    a, b = params.get("platt", (1.0, 0.0))
    return pd.Series(_sigmoid(a * logit + b), index=X.index, name="probability")


def _platt(score: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling: (a, b) of ``p = sigmoid(a * score + b)`` by Newton's method on the log-loss
    (a tiny ridge keeps it finite on separable data); identity-like (1, 0) with one class."""
    score, y = np.asarray(score, dtype=float), np.asarray(y, dtype=float)
    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    mu, sd = float(score.mean()), float(score.std()) or 1.0
    A = np.column_stack([(score - mu) / sd, np.ones(len(score))])  # standardised: Newton from 0 converges
    w = np.zeros(2)
    for _ in range(iterations):
        p = _sigmoid(A @ w)
        grad = A.T @ (p - y) + 1e-6 * w
        H = (A * (p * (1 - p))[:, None]).T @ A + 1e-6 * np.eye(2)
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0] / sd), float(w[1] - w[0] * mu / sd)


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
    df = pd.DataFrame({"p": p, "y": np.asarray(y).astype(float)})
    df["bin"] = pd.qcut(df["p"].rank(method="first"), q=min(bins, len(df)), labels=False)
    g = df.groupby("bin").agg(mean_predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    g = g.reset_index().astype({"bin": int, "n": int})
    return g.round({"mean_predicted": 4, "observed": 4}).to_dict("records")


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC by ranks (Mann-Whitney; ties share their mean rank); None with one class."""
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if not n1 or not n0:
        return None
    ranks = pd.Series(np.asarray(p, dtype=float)).rank().to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    auc = roc_auc(y, p)
    return {
        "auc": round(auc, 4) if auc is not None else None,
        "brier": round(float(np.mean((p - y) ** 2)), 4) if len(y) else None,
        "calibration": calibration_table(y, p, bins) if len(y) else [],
    }


def auc_confidence(auc) -> float:
    """100 x the held-out AUC (two decimals); 0 when unknown."""
    if auc is None or not np.isfinite(auc):
        return 0.0
    return round(float(auc) * 100.0, 2)


def fold_ids(groups: pd.Series, k: int) -> np.ndarray:
    """Fold of each row: whole groups per fold, groups spread by a stable hash (deterministic)."""
    codes, uniq = pd.factorize(groups.astype(str), sort=True)
    k = max(2, min(k, len(uniq)))
    order = pd.util.hash_array(np.asarray(uniq, dtype=object)).argsort(kind="stable")
    fold_of_group = np.empty(len(uniq), dtype=int)
    fold_of_group[order] = np.arange(len(uniq)) % k
    return fold_of_group[codes]


def out_of_fold_logit(X: pd.DataFrame, y: np.ndarray, folds: np.ndarray, cols: list[str], C: float) -> np.ndarray:
    """Out-of-fold logits of an LR on ``cols``: each fold scored by a model fitted on the others."""
    out = np.zeros(len(y))
    A = X[cols].to_numpy(dtype=float)
    for f in np.unique(folds):  # one iteration per fold, never per row
        test = folds == f
        if len(np.unique(y[~test])) < 2:
            continue
        out[test] = _fit(A[~test], y[~test], C).decision_function(A[test])
    return out


def oriented(x: np.ndarray, y: np.ndarray, train: np.ndarray) -> tuple[float, float]:
    """(fill, sign) of a single-feature baseline learnt on the ``train`` rows: missing values get
    the median, and the sign makes a higher score mean more risk there."""
    fill = float(np.nanmedian(x[train])) if np.isfinite(x[train]).any() else 0.0
    auc = roc_auc(y[train], np.where(np.isnan(x[train]), fill, x[train]))
    return fill, (1.0 if auc is None or auc >= 0.5 else -1.0)


def out_of_fold_feature(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold scores of a single feature, oriented (``oriented``) on the other folds."""
    out = np.zeros(len(y))
    for f in np.unique(folds):
        test = folds == f
        fill, sign = oriented(x, y, ~test)
        out[test] = sign * np.where(np.isnan(x[test]), fill, x[test])
    return out


def cross_fit_platt(score: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Calibrated out-of-fold probabilities: each fold Platt-scaled by a map fitted on the other folds."""
    out = np.empty(len(y))
    for f in np.unique(folds):
        test = folds == f
        a, b = _platt(score[~test], y[~test])
        out[test] = _sigmoid(a * score[test] + b)
    return out


def baseline_params(x: np.ndarray, y: np.ndarray, name: str) -> dict:
    """A single-feature baseline in :func:`model_params` form (``score = sign * x``)."""
    fill, sign = oriented(x, y, np.ones(len(y), dtype=bool))
    return {"features": [name], "fill": [fill], "mean": [0.0], "scale": [1.0], "coef": [sign], "intercept": 0.0}


def base_rate_oof(y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    rate = np.empty(len(y))
    for f in np.unique(folds):
        test = folds == f
        rate[test] = y[~test].mean() if (~test).any() else y.mean()
    return rate


def prior_probability(X: pd.DataFrame, config: DropOffConfig = DropOffConfig()) -> pd.Series:
    """The unvalidated prior: 0.1 + 0.6 x missed share (0 without deadlines) + 0.3 x min(1, idle / 30 days)."""
    missed = X["missed_weight_share"].fillna(X["missed_share"]).fillna(0.0)
    idle = (X["days_since_last_activity"] / config.features.inactive_days).clip(0.0, 1.0)
    p = config.prior_base + config.prior_missed_weight * missed + config.prior_idle_weight * idle
    return p.clip(0.0, 1.0).rename("probability")


def _prior_contributions(X: pd.DataFrame, config: DropOffConfig) -> pd.DataFrame:
    return pd.DataFrame({
        "missed_weight_share": config.prior_missed_weight * X["missed_weight_share"].fillna(X["missed_share"]).fillna(0.0),
        "days_since_last_activity": config.prior_idle_weight * (X["days_since_last_activity"] / config.features.inactive_days).clip(0, 1),
    }, index=X.index)


def prepare(events, enrollments, results, courses, content, T, config: DropOffConfig = DropOffConfig()):
    """(known events, results, enrollments with runs and outcomes at T, scoring rows at T)."""
    ev, enr, res = known_inputs(events, enrollments, results, T)
    runs = outcomes(with_runs(enr, courses), ev, T, config.features)
    return ev, res, runs, scoring_rows(runs, T)


def training_set(ev, res, runs, current, content, config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    rows = training_rows(runs, current, config.features)
    X = build_row_features(rows, ev, runs, content, res, config.features)
    return pd.concat([rows[["user_id", "course_id", "t", "label"]].reset_index(drop=True), X], axis=1)


def _reason_without_learning(data: pd.DataFrame, y: np.ndarray, config: DropOffConfig) -> str | None:
    if data.empty:
        return "no finished enrollment in the history: nothing to learn from"
    if len(np.unique(y)) < 2:
        return ("one class only in the history: every finished enrollment "
                + ("dropped out" if y.all() else "was completed"))
    if len(y) < config.min_rows or min(y.sum(), (~y).sum()) < config.min_class_rows:
        return f"too few labelled rows ({len(y)}, {int(y.sum())} dropped out; need {config.min_rows} and {config.min_class_rows} per class)"
    return None


def train_drop_off(events, enrollments, results, courses, content, T, config: DropOffConfig = DropOffConfig()) -> dict:
    """Train, evaluate and gate on the history known at ``T`` (module docstring); a plain-data model."""
    T = as_instant(T)
    ev, res, runs, current = prepare(events, enrollments, results, courses, content, T, config)
    data = training_set(ev, res, runs, current, content, config)
    y = data["label"].to_numpy(dtype=bool)
    notes = []
    if not data.empty and data["deadlines_passed"].max() == 0:
        notes.append("no due dates passed in the history: deadline features unavailable")
    positions = sorted({round(float(p), 3) for p in data["position"].dropna()}) if len(data) else []
    evaluation: dict = {
        "as_of": T.isoformat(), "target": "enrollment ends without completion",
        "inactive_days": config.features.inactive_days, "rows": int(len(data)),
        "positive_rate": round(float(y.mean()), 4) if len(y) else None, "positions": positions,
        "courses": int(data["course_id"].nunique()) if len(data) else 0, "features": FEATURES, "notes": notes,
        "auc": None, "brier": None, "base_rate_brier": None, "baselines": {}, "calibration": [],
    }
    reason = _reason_without_learning(data, y, config)
    if reason is not None:
        evaluation.update(method="prior", reason=reason, confidence_score=0.0)
        return {"method": "prior", "confidence_score": 0.0, "params": None, "evaluation": evaluation}

    groups = data["course_id"] if data["course_id"].nunique() >= 3 else data["user_id"] + "|" + data["course_id"]
    folds = fold_ids(groups, config.folds)
    evaluation["split"] = "by course" if data["course_id"].nunique() >= 3 else "by enrollment"
    X = data[FEATURES]
    base = evaluate(y, base_rate_oof(y, folds), config.calibration_bins)
    evaluation["base_rate_brier"] = base["brier"]
    candidates = {"model": MODEL_FEATURES}
    candidates.update({f"baseline:{c}": [c] for c in FEATURES if X[c].notna().any() and X[c].nunique() > 1})
    tried = {C: out_of_fold_logit(X, y, folds, MODEL_FEATURES, C) for C in config.C_grid}
    C = max(config.C_grid, key=lambda c: roc_auc(y, tried[c]) or 0)
    evaluation["model_C"] = C
    raw = {name: tried[C] if name == "model" else out_of_fold_feature(X[cols[0]].to_numpy(dtype=float), y, folds)
           for name, cols in candidates.items()}
    scores = {name: evaluate(y, cross_fit_platt(r, y, folds), config.calibration_bins) for name, r in raw.items()}
    evaluation["baselines"] = {n[9:]: {"auc": s["auc"], "brier": s["brier"]} for n, s in scores.items() if n != "model"}
    evaluation["model"] = scores["model"]
    ranked = sorted((n for n in scores if n != "model"), key=lambda n: -(scores[n]["auc"] or 0))
    best = ranked[0] if ranked else None
    evaluation["best_baseline"] = best[9:] if best else None

    def passes(name: str) -> bool:
        s = scores[name]
        return (s["auc"] or 0) >= 0.5 + config.auc_margin and s["brier"] <= base["brier"]

    if passes("model") and (best is None or scores["model"]["auc"] > scores[best]["auc"]):
        method, reason = "model", None
    elif best is not None and passes(best):
        method = best
        reason = (f"the model (AUC {scores['model']['auc']}, Brier {scores['model']['brier']}) did not beat the best "
                  f"single feature {best[9:]} (AUC {scores[best]['auc']}) and chance by {config.auc_margin} with Brier <= "
                  f"base rate's {base['brier']}")
    else:
        method = "base_rate"
        reason = (f"neither the model (AUC {scores['model']['auc']}) nor any single feature beat chance by "
                  f"{config.auc_margin} with Brier <= the base rate's {base['brier']}")
    if method == "base_rate":
        chosen = base
        params = {"features": [], "rate": float(y.mean())}
        confidence = 0.0
    else:
        chosen = scores[method]
        cols = candidates[method]
        if method == "model":
            params = model_params(_fit(X[cols].to_numpy(dtype=float), y, C), cols)
        else:
            params = baseline_params(X[cols[0]].to_numpy(dtype=float), y, cols[0])
        params["platt"] = list(_platt(raw[method], y))  # the calibration learnt on held-out scores
        confidence = auc_confidence(chosen["auc"])
        evaluation["coefficients"] = dict(zip(cols, np.round(params["coef"], 4).tolist()))
    evaluation.update(method=method, reason=reason, auc=chosen["auc"], brier=chosen["brier"],
                      calibration=chosen["calibration"], confidence_score=confidence)
    return {"method": method, "confidence_score": confidence, "params": params, "evaluation": evaluation}


def score_enrollments(model: dict, ev, res, runs, rows, content, config: DropOffConfig = DropOffConfig(),
                      cohort_means: pd.DataFrame | None = None) -> pd.DataFrame:
    """Probability and reasons per scoring row (``ENROLLMENT_COLUMNS``)."""
    return score_features(model, build_row_features(rows, ev, runs, content, res, config.features, cohort_means),
                          rows, config)


def score_features(model: dict, X: pd.DataFrame, rows: pd.DataFrame, config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    """Probability and reasons per scoring row from its features ``X`` (:data:`FEATURES`, same index order)."""
    method = model["method"]
    if method == "prior":
        prob = prior_probability(X, config)
        reasons = top_reasons(_prior_contributions(X, config), config.top_reasons)
    elif method == "base_rate":
        prob = pd.Series(model["params"]["rate"], index=X.index, dtype=float)
        reasons = [["no validated signal: the history's drop-out rate"]] * len(X)
    else:
        prob = linear_probability(model["params"], X)
        reasons = top_reasons(linear_contributions(model["params"], X), config.top_reasons)
    return pd.DataFrame({
        "user_id": rows["user_id"].astype("str").to_numpy(), "course_id": rows["course_id"].astype("str").to_numpy(),
        "probability": prob.to_numpy(dtype=float), "position": rows["position"].to_numpy(dtype=float),
        "weeks_enrolled": rows["weeks_enrolled"].to_numpy(dtype=float),
        "top_reasons": pd.Series(reasons, dtype=object).to_numpy() if len(X) else np.array([], dtype=object),
    })[ENROLLMENT_COLUMNS]


def learner_risk(enrollment_risk: pd.DataFrame, confidence: float, method: str) -> pd.DataFrame:
    """One row per learner: the highest enrollment probability, its reasons, every enrollment's detail."""
    e = enrollment_risk.sort_values(["user_id", "probability", "course_id"], ascending=[True, False, True])
    top = e.drop_duplicates("user_id").reset_index(drop=True)
    detail = pd.DataFrame({
        "course_id": e["course_id"].astype(object), "probability": e["probability"].round(4).astype(object),
        "position": e["position"].round(3).astype(object).where(e["position"].notna(), None),
        "weeks_enrolled": e["weeks_enrolled"].round(1).astype(object),
    })
    per = lists_by_user(detail.to_dict("records"), e["user_id"].to_numpy())
    return pd.DataFrame({
        "user_id": top["user_id"].astype("str"), "probability": top["probability"].astype(float),
        "confidence_score": np.full(len(top), round(float(confidence), 2)),
        "top_reasons": top["top_reasons"].astype(object), "method": method,
        "enrollments": per.reindex(top["user_id"]).to_numpy() if len(top) else np.array([], dtype=object),
    })[OUTPUT_COLUMNS]


def score_drop_off(model: dict, events, enrollments, results, courses, content, T, config: DropOffConfig = DropOffConfig(),
                   cohort_means: pd.DataFrame | None = None) -> pd.DataFrame:
    """Apply a :func:`train_drop_off` model to the enrollments active at ``T`` (per learner).

    ``cohort_means``: the cohorts of every learner (:func:`scoring_cohort_parts` over all of them,
    then ``cohort_means_of``) when the frames hold only some learners (chunks, recomputed ones)."""
    ev, res, runs, rows = prepare(events, enrollments, results, courses, content, T, config)
    return learner_risk(score_enrollments(model, ev, res, runs, rows, content, config, cohort_means),
                        model["confidence_score"], model["method"])


def scoring_raw(events, enrollments, results, courses, content, T,
                config: DropOffConfig = DropOffConfig()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows, raw)``: the enrollments active at ``T`` in these frames (one chunk) and their
    cohort-free features (``raw_row_features``: what a cohort's parts and a score are made of)."""
    ev, res, runs, rows = prepare(events, enrollments, results, courses, content, T, config)
    return rows, raw_row_features(rows, ev, runs, content, res, config.features)


def scoring_cohort_parts(events, enrollments, results, courses, content, T, config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    """The additive cohort parts of the enrollments active at ``T`` in these frames (one chunk)."""
    return cohort_parts(scoring_raw(events, enrollments, results, courses, content, T, config)[1])


def score_raw(model: dict, rows: pd.DataFrame, raw: pd.DataFrame, cohort_means: pd.DataFrame,
              config: DropOffConfig = DropOffConfig()) -> pd.DataFrame:
    """Per learner (``OUTPUT_COLUMNS``): :func:`score_drop_off` of the rows whose raw features
    (:func:`scoring_raw`, any subset of the learners) and cohorts' means (of every active
    enrollment) are known: the same values as scoring them from their frames."""
    own = cohort_means_of([cohort_parts(raw)])
    X = finish_row_features(raw, cohort_means.combine_first(own))
    return learner_risk(score_features(model, X, rows, config), model["confidence_score"], model["method"])


def predict_drop_off(events, enrollments, results, courses, content, T, config: DropOffConfig = DropOffConfig()):
    """``(per-learner frame (OUTPUT_COLUMNS), evaluation)``: train at T and score the active enrollments."""
    model = train_drop_off(events, enrollments, results, courses, content, T, config)
    return score_drop_off(model, events, enrollments, results, courses, content, T, config), model["evaluation"]
