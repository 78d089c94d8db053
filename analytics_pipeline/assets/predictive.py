"""Predictive assets: drop-off risk, completion forecast and recommendations into
``predictive_analytics_cache`` (one live row per learner and kind, 48 h).

Thin over the pure layer (``analytics_pipeline.predictive``, docs/predictive.md): each asset
reads its inputs with the set-based queries of ``sql/queries/predictive/`` (only the columns
and the time window it needs), computes, and writes its kind in one transaction
(:func:`write_kind`): delete the kind's rows of this ``T``, every row of the kind of the
learners being written (their older snapshots) and of the learners whose preferences turn the
kind off, then COPY the new rows. Opt-outs are the preferences *now*, also for a backfill.
"""

import dagster as dg
import pandas as pd

from analytics_pipeline.analytics.common import active_learners
from analytics_pipeline.analytics.content_effectiveness import ContentEffectivenessConfig, item_effects
from analytics_pipeline.analytics.skill_gap import skill_gap_table
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.predictive import (
    DropOffConfig,
    ForecastConfig,
    RecommendationConfig,
    forecast_completion,
    opted_out_users,
    predict_drop_off,
    recommend_next,
    to_cache_rows,
)
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse.bulk import read_frame, replace_snapshot, sql_text

TABLE = "predictive_analytics_cache"
GROUP = "predictive"
OWNERS = ["team:data-platform"]
SOURCE_KEYS = ["learning_events", "enrollments", "assessment_results", "user_preferences"]
# Feature windows reach 28 days back from a snapshot (events, results, progress trend).
FEATURE_LOOKBACK_DAYS = 28


class DropOffRunConfig(dg.Config):
    """How much history the drop-off model reads and trains on."""

    history_days: int = 224  # events/results/enrollments of (T - history_days, T]; 224 = 26 weekly snapshots
    max_snapshots: int = 26  # also bounded by history_days (each snapshot needs its label and feature windows)
    horizon_days: int = 14


def read(warehouse: WarehouseResource, query: str, **params) -> pd.DataFrame:
    """Run ``sql/queries/predictive/<query>.sql`` with timestamp parameters as datetimes."""
    bound = {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in params.items()}
    with warehouse.engine().connect() as conn:
        return read_frame(conn, sql_text(f"predictive/{query}.sql"), bound)


def _markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_no rows_"
    text = frame.astype(str).map(lambda v: v.replace("|", "\\|").replace("\n", " "))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in text.to_numpy().tolist()]
    return "\n".join(lines)


def _value(v):
    return dg.MetadataValue.null() if v is None else v


def write_kind(warehouse: WarehouseResource, kind: str, frame: pd.DataFrame, T: pd.Timestamp,
               preferences: pd.DataFrame) -> dict:
    """Replace the cache rows of ``kind`` (module docstring) in one transaction; return metadata."""
    rows = to_cache_rows(kind, frame, T, preferences)
    opted_out = opted_out_users(kind, preferences)
    with replace_snapshot(warehouse.engine(), TABLE, T, json_columns=["data"], scope={"analytics_type": kind}) as writer:
        replaced = writer.delete_users(rows["user_id"])
        removed = writer.delete_users(opted_out)
        writer.write(rows)
    preview = rows.head(5).assign(data=rows["data"].head(5).map(str).str.slice(0, 200))
    return {
        "analytics_type": kind,
        "row_count": dg.MetadataValue.int(len(rows)),
        "calculated_at": T.isoformat(),
        "expires_at": (T + pd.Timedelta(hours=48)).isoformat() if len(rows) else dg.MetadataValue.null(),
        "learners_computed": dg.MetadataValue.int(len(frame)),
        "opted_out_learners": dg.MetadataValue.int(len(opted_out)),
        "opted_out_skipped": dg.MetadataValue.int(len(frame) - len(rows)),
        "opted_out_rows_removed": dg.MetadataValue.int(removed),
        "older_rows_replaced": dg.MetadataValue.int(replaced),
        "mean_confidence": float(rows["confidence_score"].mean()) if len(rows) else dg.MetadataValue.null(),
        "preview": dg.MetadataValue.md(_markdown(preview)),
    }


def drop_off_config(run: DropOffRunConfig) -> DropOffConfig:
    usable = (run.history_days - run.horizon_days - FEATURE_LOOKBACK_DAYS) // 7 + 1
    return DropOffConfig(horizon_days=run.horizon_days, max_snapshots=max(0, min(run.max_snapshots, usable)))


def drop_off_metadata(evaluation: dict) -> dict:
    chosen = evaluation.get("model") if evaluation["method"] == "model" else evaluation["heuristic"]
    calibration = pd.DataFrame((chosen or {}).get("calibration") or [])
    heuristic = evaluation["heuristic"]
    return {
        "method": evaluation["method"],
        "heuristic_reason": evaluation.get("heuristic_reason") or "",
        "auc": _value(evaluation["auc"]),
        "brier": _value(evaluation["brier"]),
        "model_auc": _value((evaluation.get("model") or {}).get("auc")),
        "model_brier": _value((evaluation.get("model") or {}).get("brier")),
        "heuristic_auc": _value(heuristic["auc"]),
        "heuristic_brier": _value(heuristic["brier"]),
        "confidence_score": evaluation["confidence_score"],
        "training_rows": dg.MetadataValue.int(evaluation["train_rows"]),
        "test_rows": dg.MetadataValue.int(evaluation["test_rows"]),
        "labelled_snapshots": dg.MetadataValue.int(len(evaluation["snapshots"])),
        "test_positive_rate": _value(evaluation["test_positive_rate"]),
        "calibration": dg.MetadataValue.md(_markdown(calibration)),
        "coefficients": dg.MetadataValue.json(evaluation.get("coefficients") or {}),
    }


@dg.asset(
    group_name=GROUP,
    kinds={"scikitlearn", "postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
    deps=[*SOURCE_KEYS, "engagement_analytics", "performance_analytics", "learner_velocity_analytics"],
    description=(
        "Drop-off risk (no learning activity in the 14 days after T) per active learner, trained on the "
        "platform's own history with a time-split evaluation, or a documented heuristic with low confidence "
        "when history is short (docs/predictive.md). Writes analytics_type 'drop_off_risk' to "
        "predictive_analytics_cache; metadata carries AUC, Brier score and the calibration table."
    ),
)
def predictive_drop_off_risk(
    context: dg.AssetExecutionContext, config: DropOffRunConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    T = snapshot_instant(context)
    since = T - pd.Timedelta(days=config.history_days)
    events = read(warehouse, "events", since=since, t=T)
    enrollments = read(warehouse, "enrollments", since=since, t=T)
    results = read(warehouse, "assessment_results", since=since, t=T)
    preferences = read(warehouse, "preferences")
    frame, evaluation = predict_drop_off(events, enrollments, results, T, drop_off_config(config))
    context.log.info(
        "drop-off: method %s, AUC %s, Brier %s, %s training rows (%s events read)",
        evaluation["method"], evaluation["auc"], evaluation["brier"], evaluation["train_rows"], len(events),
    )
    metadata = write_kind(warehouse, "drop_off_risk", frame, T, preferences)
    metadata.update(drop_off_metadata(evaluation))
    metadata["events_read"] = dg.MetadataValue.int(len(events))
    metadata["high_risk_learners"] = dg.MetadataValue.int(int((frame["probability"] >= 0.6).sum()))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    kinds={"pandas", "postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
    deps=["learning_events", "enrollments", "user_preferences", "learner_velocity_analytics"],
    description=(
        "Expected completion date with an interval per active enrollment, from the pace of the last 8 weeks "
        "(docs/predictive.md). Writes analytics_type 'forecast' to predictive_analytics_cache."
    ),
)
def predictive_forecast(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    T = snapshot_instant(context)
    cfg = ForecastConfig()
    events = read(warehouse, "events", since=T - pd.Timedelta(weeks=cfg.weeks), t=T)
    enrollments = read(warehouse, "enrollments", since=T, t=T)
    preferences = read(warehouse, "preferences")
    frame = forecast_completion(events, enrollments, T, cfg)
    return dg.MaterializeResult(metadata=write_kind(warehouse, "forecast", frame, T, preferences))


@dg.asset(
    group_name=GROUP,
    kinds={"pandas", "postgres"},
    owners=OWNERS,
    partitions_def=DAILY_PARTITIONS,
    code_version="1",
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
    ce = ContentEffectivenessConfig()
    enrollments = read(warehouse, "enrollments", since=T, t=T)
    course_skills = read(warehouse, "course_skills")
    user_skills = read(warehouse, "user_skills", t=T)
    skills = read(warehouse, "skills")
    items = read(warehouse, "content_items")
    events = read(warehouse, "content_events", since=T - pd.Timedelta(days=ce.lookback_days + ce.effect_window_days), t=T)
    results = read(warehouse, "assessment_results", since=T - pd.Timedelta(days=ce.lookback_days), t=T)
    used = read(warehouse, "used_content", t=T)
    preferences = read(warehouse, "preferences")

    learners = active_learners(enrollments, T)
    gaps = skill_gap_table(enrollments, course_skills, user_skills, skills, T)
    effects = item_effects(items, events, results, T, ce)
    active = enrollments.loc[enrollments["user_id"].isin(learners), ["user_id", "course_id"]]
    frame = recommend_next(gaps, effects, items, used, learner_courses=active, skills=skills,
                           config=RecommendationConfig(), learners=learners)
    metadata = write_kind(warehouse, "recommendations", frame, T, preferences)
    metadata["measured_item_effects"] = dg.MetadataValue.int(len(effects))
    metadata["learners_with_gaps"] = dg.MetadataValue.int(int(gaps["user_id"].nunique()))
    return dg.MaterializeResult(metadata=metadata)


PREDICTIVE_ASSETS = [predictive_drop_off_risk, predictive_forecast, predictive_recommendations]

defs = dg.Definitions(assets=PREDICTIVE_ASSETS)
