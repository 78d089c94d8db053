"""Drop-off benchmark on a recorded platform: train on the history known at an instant, score the
runs in progress, compare with what really happened.

    analytics-pipeline dropout-benchmark --replay reference/data/oulad-2013 --at 2013J:0.25
    analytics-pipeline dropout-benchmark --sandbox XS --seed 42 --at-day 60

With ``--sandbox`` the platform is the synthetic one (``sandbox/generator.py``) at day ``--at-day``
of its timeline; the truth is what it serves at the end of its generated timeline (history plus
hidden future).

The replay (``sandbox/replay.py``) serves the recording as it was at ``--at``; its rows are
validated by the contract (``sources/contract.py``) into the frames the pipeline reads, and the
drop-off layer trains on them exactly as the nightly asset does (``train_drop_off``: at 2013J
25 % the finished history is the 2013B presentations). The truth comes from the same recording
served after every run ended: an enrollment active at the instant drops out when it is withdrawn
or never completed (and, separately, "withdrew" = withdrawn only).

Printed side by side on the same enrollments: the served method, the full model, every
single-feature baseline (fitted on the same history; the sign learnt there), the base rate's
Brier, and how many "high" labels a confidence below the threshold would have given; besides the
AUC on every enrollment, the AUC for "withdrew" only and on the enrollments of scheduled courses.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from analytics_pipeline.predictive.cache_rows import CacheConfig, risk_levels
from analytics_pipeline.predictive.course_features import (FEATURES, MODEL_FEATURES, build_row_features, known_inputs, outcomes, row_labels,
                                                            with_runs)
from analytics_pipeline.predictive.drop_off import (
    DropOffConfig,
    _fit,
    _platt,
    baseline_params,
    linear_contributions,
    linear_probability,
    model_params,
    evaluate,
    prepare,
    score_enrollments,
    train_drop_off,
    training_set,
)
from analytics_pipeline.sandbox.replay import ReplayPlatform
from analytics_pipeline.sources.contract import validate_rows

RESOURCES = {"courses": "courses", "content": "content", "enrollments": "enrollments",
             "learning-events": "events", "assessment-results": "results"}


def served_frames(platform: ReplayPlatform) -> dict[str, pd.DataFrame]:
    """What the replay serves at its ``now``, validated by the contract (as the extraction does)."""
    out = {}
    for resource, name in RESOURCES.items():
        table = platform.tables[resource]
        idx, _ = table.select(platform.now, -1, len(table) + 1)
        checked = validate_rows(resource, table.rows(idx))
        if len(checked.rejected):
            raise ValueError(f"{resource}: {len(checked.rejected)} rows break the contract: {checked.rejected.iloc[0]['reason']}")
        out[name] = checked.valid
    return out


def benchmark(folder: str, at: str, config: DropOffConfig = DropOffConfig()) -> dict:
    end = ReplayPlatform(folder, at)
    end.now = end.end + 86_400
    return benchmark_platform(ReplayPlatform(folder, at), end, config)


def sandbox_benchmark(profile: str = "XS", seed: int = 42, at_day: float = 60,
                      config: DropOffConfig = DropOffConfig()) -> dict:
    """The benchmark on the synthetic platform at day ``at_day``; truth = the end of its timeline."""
    from analytics_pipeline.sandbox.generator import Platform

    platform = Platform(profile, seed)
    at = platform.start + int(at_day * 86_400)
    frames_now, frames_end = _clock(platform, at), _clock(platform, platform.end + 86_400)
    return benchmark_platform(frames_now, frames_end, config)


class _clock:
    """A platform seen at another instant (the tables are shared, only ``now`` differs)."""

    def __init__(self, platform, now: int):
        self.tables, self.now, self.end = platform.tables, now, platform.end


def benchmark_platform(platform, end, config: DropOffConfig = DropOffConfig()) -> dict:
    """Train and score at ``platform.now``; the truth is what ``end`` serves at its ``now``."""
    T = pd.Timestamp(platform.now, unit="s", tz="UTC")
    f = served_frames(platform)
    args = (f["events"], f["enrollments"], f["results"], f["courses"], f["content"])
    model = train_drop_off(*args, T, config)
    ev, res, runs, rows = prepare(*args, T, config)
    served = score_enrollments(model, ev, res, runs, rows, f["content"], config)

    g = served_frames(end)
    T_end = pd.Timestamp(end.now, unit="s", tz="UTC")
    ev_all, enr_all, _ = known_inputs(g["events"], g["enrollments"], g["results"], T_end)
    truth = outcomes(with_runs(enr_all, g["courses"]), ev_all, T_end, config.features)
    truth = rows[["user_id", "course_id", "t", "scheduled"]].merge(
        truth[["user_id", "course_id", "dropped", "withdrawn_at", "last_activity"]], on=["user_id", "course_id"], how="left")
    y = row_labels(truth).to_numpy(dtype=bool)
    withdrew = truth["withdrawn_at"].notna().to_numpy()

    history = training_set(ev, res, runs, rows, f["content"], config)
    X_now = build_row_features(rows, ev, runs, f["content"], res, config.features)
    y_hist = history["label"].to_numpy(dtype=bool)
    table = []

    sched = rows["scheduled"].to_numpy(dtype=bool)
    both = len(np.unique(y[sched])) == 2

    def add(name: str, p: np.ndarray) -> None:
        e, w = evaluate(y, p), evaluate(withdrew, p)
        s = evaluate(y[sched], p[sched])["auc"] if both else None
        table.append({"method": name, "auc": e["auc"], "brier": e["brier"], "auc_withdrew": w["auc"], "auc_scheduled": s})

    add(f"served ({model['method']})", served["probability"].to_numpy(dtype=float))
    if len(np.unique(y_hist)) == 2:  # every candidate fitted on the whole history (Platt on its own scores)
        C = model["evaluation"].get("model_C", 1.0)
        lr = _fit(history[MODEL_FEATURES].to_numpy(float), y_hist, C)
        params = {**model_params(lr, MODEL_FEATURES), "platt": list(_platt(lr.decision_function(history[MODEL_FEATURES].to_numpy(float)), y_hist))}
        add("model", linear_probability(params, X_now).to_numpy())
        for c in FEATURES:
            if history[c].notna().any() and history[c].nunique() > 1:
                params = baseline_params(history[c].to_numpy(float), y_hist, c)
                score = linear_contributions(params, history).sum(axis=1).to_numpy()
                params["platt"] = list(_platt(score, y_hist))
                add(f"baseline: {c}", linear_probability(params, X_now).to_numpy())
    rate = float(y_hist.mean()) if len(y_hist) else float("nan")
    cache = CacheConfig()
    levels = risk_levels(served["probability"], model["confidence_score"], cache)
    return {
        "instant": T.isoformat(), "served_method": model["method"], "reason": model["evaluation"].get("reason"),
        "confidence_score": model["confidence_score"], "history_rows": int(len(history)),
        "history_positive_rate": round(rate, 4), "scored_enrollments": int(len(rows)),
        "dropped_out": int(y.sum()), "withdrew": int(withdrew.sum()), "scheduled_enrollments": int(sched.sum()),
        "positions": sorted({round(float(p), 3) for p in rows["position"].dropna()}),
        "base_rate_brier": round(float(np.mean((rate - y) ** 2)), 4),
        "high_labels": int((levels == "high").sum()),
        "high_labels_below_confidence": int(((levels == "high") & (model["confidence_score"] < cache.min_confidence)).sum()),
        "held_out_evaluation": {k: model["evaluation"].get(k) for k in ("auc", "brier", "base_rate_brier", "split", "best_baseline")},
        "table": table,
    }


def render(result: dict) -> str:
    lines = [f"drop-off benchmark at {result['instant']} (positions {result['positions']}): "
             f"{result['scored_enrollments']} active enrollments, {result['dropped_out']} dropped out later "
             f"({result['withdrew']} withdrew); history {result['history_rows']} rows, "
             f"drop-out rate {result['history_positive_rate']}",
             f"served: {result['served_method']} (confidence {result['confidence_score']})"
             + (f" -- {result['reason']}" if result["reason"] else ""),
             f"held out on the history: {json.dumps(result['held_out_evaluation'])}", "",
             f"{'method':42} {'AUC':>7} {'Brier':>7} {'AUC withdrew':>13} {'AUC scheduled':>14}"]
    best = max((r["auc"] or 0) for r in result["table"] if r["method"].startswith("baseline")) if len(result["table"]) > 2 else None
    for r in result["table"]:
        lines.append(f"{r['method']:42} {r['auc'] if r['auc'] is not None else '-':>7} {r['brier']:>7} "
                     f"{r['auc_withdrew'] if r['auc_withdrew'] is not None else '-':>13} "
                     f"{r['auc_scheduled'] if r.get('auc_scheduled') is not None else '-':>14}")
    lines += ["", f"base rate Brier {result['base_rate_brier']}; best baseline AUC {best}; "
              f"'high' labels {result['high_labels']} ({result['high_labels_below_confidence']} with confidence under the threshold)"]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--replay", default="reference/data/oulad-2013", help="the recording (an OULAD extract)")
    parser.add_argument("--at", default="2013J:0.25", help="the instant: <presentation>:<fraction of its run> or a date")
    parser.add_argument("--sandbox", metavar="PROFILE", help="score the synthetic sandbox platform of this profile instead")
    parser.add_argument("--seed", type=int, default=42, help="seed of the sandbox platform")
    parser.add_argument("--at-day", type=float, default=60, help="sandbox: the instant, in days from its day 0")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    result = (sandbox_benchmark(args.sandbox, args.seed, args.at_day) if args.sandbox
              else benchmark(args.replay, args.at))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
