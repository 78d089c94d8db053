"""Predictive assets: drop-off risk, completion forecast and recommendations into
``predictive_analytics_cache`` (one live row per learner and kind, 48 h).

Wiring only, over the pure layer (``analytics_pipeline.predictive``, docs/predictive.md) and
its store (``predictive/store.py``): each asset recomputes only the learners without a fresh
cache row (active at T; no row valid at T, or an input changed since it was calculated),
reading their inputs by COPY in hash-bucket chunks with the set-based queries of
``sql/queries/predictive/``; the model (drop-off coefficients, recommendation item effects)
is trained once per cache lifetime and stored in ``predictive_models``. Each kind is written
in one transaction (``store.write_kind``): every row of the kind of the learners being written
(their older snapshots) and of the learners whose preferences turn the kind off is deleted,
then the new rows are COPYed; fresh rows stay. Opt-outs are the preferences *now*, also for a
backfill.
"""

import dagster as dg
import pandas as pd

from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.predictive import DropOffConfig, ForecastConfig, RecommendationConfig
from analytics_pipeline.predictive import store
from analytics_pipeline.predictive.cache_rows import risk_levels
from analytics_pipeline.predictive.course_features import CourseFeatureConfig
from analytics_pipeline.resources import WarehouseResource

GROUP = "predictive"
OWNERS = ["team:data-platform"]
SOURCE_KEYS = ["learning_events", "enrollments", "assessment_results", "user_preferences"]
DAILY_PREDICTIVE_ASSET = dict(
    group_name=GROUP,
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="2",  # 2: chunked reads, training sample, cache and model reuse
)


class DropOffRunConfig(dg.Config):
    """How much history the drop-off model reads and trains on."""

    history_days: int = 365  # enrollments not ended before T - history_days (a finished run and its history)
    inactive_days: int = 30  # self-paced: this long without activity = dropped out
    training_learners: int = 10_000  # the model trains on a hash sample of about this many learners (docs)
    chunk_learners: int = store.DEFAULT_CHUNK_LEARNERS  # learners scored per chunk (memory bound)


def _markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_no rows_"
    text = frame.astype(str).map(lambda v: v.replace("|", "\\|").replace("\n", " "))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in text.to_numpy().tolist()]
    return "\n".join(lines)


def _value(v):
    return dg.MetadataValue.null() if v is None else v


def write_kind(warehouse: WarehouseResource, kind: str, run: store.KindRun, T: pd.Timestamp, run_id: str | None) -> dict:
    """Write the kind's rows (``store.write_kind``); return the materialization's metadata."""
    written = store.write_kind(warehouse.engine(), kind, run, T, run_id)
    rows = written["rows"]
    frame = run.frame
    preview = rows.head(5).assign(data=rows["data"].head(5).map(str).str.slice(0, 200))
    return {
        "analytics_type": kind,
        "row_count": dg.MetadataValue.int(written["row_count"]),
        "rows_quarantined": dg.MetadataValue.int(written["rows_quarantined"]),  # a value the cache cannot hold
        "rows_dropped_erased": dg.MetadataValue.int(written["rows_dropped_erased"]),  # learner erased meanwhile
        "calculated_at": T.isoformat(),
        "expires_at": (T + store.TTL).isoformat() if len(rows) else dg.MetadataValue.null(),
        "learners_computed": dg.MetadataValue.int(len(frame)),  # the stale ones; fresh rows were kept
        "opted_out_learners": dg.MetadataValue.int(written["opted_out_learners"]),
        "opted_out_skipped": dg.MetadataValue.int(len(frame) - len(rows)),
        "opted_out_rows_removed": dg.MetadataValue.int(written["opted_out_rows_removed"]),
        "older_rows_replaced": dg.MetadataValue.int(written["older_rows_replaced"]),
        "mean_confidence": float(rows["confidence_score"].mean()) if len(rows) else dg.MetadataValue.null(),
        "preview": dg.MetadataValue.md(_markdown(preview)),
    }


def drop_off_config(run: DropOffRunConfig) -> DropOffConfig:
    return DropOffConfig(features=CourseFeatureConfig(inactive_days=run.inactive_days))


def drop_off_metadata(evaluation: dict) -> dict:
    baselines = pd.DataFrame([{"feature": k, **v} for k, v in (evaluation.get("baselines") or {}).items()])
    if len(baselines):
        baselines = baselines.sort_values("auc", ascending=False, na_position="last")
    model = evaluation.get("model") or {}
    return {
        "method": evaluation["method"],
        "reason": evaluation.get("reason") or "",
        "target": evaluation.get("target", ""),
        "auc": _value(evaluation["auc"]),
        "brier": _value(evaluation["brier"]),
        "base_rate_brier": _value(evaluation.get("base_rate_brier")),
        "model_auc": _value(model.get("auc")),
        "model_brier": _value(model.get("brier")),
        "best_baseline": evaluation.get("best_baseline") or "",
        "best_baseline_auc": _value((evaluation.get("baselines") or {}).get(evaluation.get("best_baseline") or "", {}).get("auc")),
        "confidence_score": evaluation["confidence_score"],
        "training_rows": dg.MetadataValue.int(evaluation["rows"]),
        "training_positive_rate": _value(evaluation.get("positive_rate")),
        "training_courses": dg.MetadataValue.int(evaluation.get("courses", 0)),
        "positions": dg.MetadataValue.json(evaluation.get("positions") or []),
        "split": evaluation.get("split", ""),
        "notes": "; ".join(evaluation.get("notes") or []),
        "calibration": dg.MetadataValue.md(_markdown(pd.DataFrame(evaluation.get("calibration") or []))),
        "baselines": dg.MetadataValue.md(_markdown(baselines)),
        "coefficients": dg.MetadataValue.json(evaluation.get("coefficients") or {}),
    }


@dg.asset(
    **DAILY_PREDICTIVE_ASSET,
    kinds={"scikitlearn", "postgres"},
    deps=[*SOURCE_KEYS, "courses", "content_items", "engagement_analytics", "performance_analytics",
          "learner_velocity_analytics"],
    description=(
        "Drop-off risk per active learner: the probability that an active enrollment ends without completion "
        "(withdrawn, no activity for the rest of the run / 30 days self-paced), from course-relative features at "
        "the same position of the run, trained on the platform's finished enrollments, gated against chance, "
        "every single-feature baseline and the base rate's Brier, calibrated (docs/predictive.md). Writes "
        "analytics_type 'drop_off_risk' to predictive_analytics_cache; metadata carries AUC, Brier, the "
        "baselines and the calibration table."
    ),
)
def predictive_drop_off_risk(
    context: dg.AssetExecutionContext, config: DropOffRunConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    T = snapshot_instant(context)
    run = store.drop_off_run(warehouse.engine(), T, drop_off_config(config), config.history_days,
                             config.training_learners, config.chunk_learners)
    model, evaluation = run.model, run.model["evaluation"]
    context.log.info(
        "drop-off: method %s (%s), AUC %s, Brier %s (base rate %s), %s training rows, %s learners recomputed",
        model["method"], "reused" if run.reused else "trained", evaluation["auc"], evaluation["brier"],
        evaluation.get("base_rate_brier"), evaluation["rows"], len(run.frame),
    )
    metadata = write_kind(warehouse, "drop_off_risk", run, T, context.run_id)
    metadata.update(drop_off_metadata(evaluation))
    metadata.update(run.counters)
    metadata["model_reused"] = run.reused
    metadata["model_trained_at"] = model.get("trained_at", T.isoformat())
    metadata["training_learners"] = dg.MetadataValue.int(int(model.get("training_learners", 0)))
    levels = risk_levels(run.frame["probability"], run.frame["confidence_score"]) if len(run.frame) else []
    metadata["high_risk_learners"] = dg.MetadataValue.int(int((pd.Series(levels) == "high").sum()))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    **DAILY_PREDICTIVE_ASSET,
    kinds={"pandas", "postgres"},
    deps=["learning_events", "enrollments", "courses", "user_preferences", "learner_velocity_analytics"],
    description=(
        "Expected completion date with an interval per active enrollment, from the pace of the last 8 weeks, "
        "never after the enrollment's target completion or the course's end (docs/predictive.md). Writes "
        "analytics_type 'forecast' to predictive_analytics_cache."
    ),
)
def predictive_forecast(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    T = snapshot_instant(context)
    run = store.forecast_run(warehouse.engine(), T, ForecastConfig())
    return dg.MaterializeResult(metadata=write_kind(warehouse, "forecast", run, T, context.run_id))


@dg.asset(
    **DAILY_PREDICTIVE_ASSET,
    kinds={"pandas", "postgres"},
    deps=[*SOURCE_KEYS, "content_items", "skills", "user_skills", "courses",
          "skill_gap_analytics", "content_effectiveness_analytics"],
    description=(
        "Next content and skills per active learner: the top skill gaps (skill_gap_table) and the content "
        "effects measured as in content effectiveness (item_effects) (docs/predictive.md). Writes "
        "analytics_type 'recommendations' to predictive_analytics_cache."
    ),
)
def predictive_recommendations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    T = snapshot_instant(context)
    run = store.recommendations_run(warehouse.engine(), T, RecommendationConfig())
    metadata = write_kind(warehouse, "recommendations", run, T, context.run_id)
    metadata.update({key: dg.MetadataValue.int(value) if isinstance(value, int) else value
                     for key, value in run.counters.items()})
    metadata["model_reused"] = run.reused
    return dg.MaterializeResult(metadata=metadata)


PREDICTIVE_ASSETS = [predictive_drop_off_risk, predictive_forecast, predictive_recommendations]

defs = dg.Definitions(assets=PREDICTIVE_ASSETS)
