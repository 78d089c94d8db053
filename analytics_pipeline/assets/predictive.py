"""Predictive assets: drop-off risk, completion forecast and recommendations into
``predictive_analytics_cache`` (one live row per learner and kind, 48 h).

Thin over the pure layer (``analytics_pipeline.predictive``, docs/predictive.md) and
``warehouse/predictive_store.py``: each asset recomputes only the learners without a fresh
cache row (active at T; no row valid at T, or an input changed since it was calculated),
reading their inputs by COPY in hash-bucket chunks with the set-based queries of
``sql/queries/predictive/``; the model (drop-off coefficients, recommendation item effects)
is trained once per cache lifetime and stored in ``predictive_models``. Each kind is written
in one transaction (:func:`write_kind`): every row of the kind of the learners being written
(their older snapshots) and of the learners whose preferences turn the kind off is deleted,
then the new rows are COPYed; fresh rows stay. Opt-outs are the preferences *now*, also for a
backfill.
"""

import time

import dagster as dg
import pandas as pd

from analytics_pipeline.analytics import content_effectiveness as ce
from analytics_pipeline.analytics.common import active_learners
from analytics_pipeline.analytics.skill_gap import skill_gap_table
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.predictive import (
    DropOffConfig,
    ForecastConfig,
    RecommendationConfig,
    forecast_completion,
    opted_out_users,
    recommend_next,
    to_cache_rows,
)
from analytics_pipeline.predictive.cache_rows import CacheConfig, risk_levels
from analytics_pipeline.predictive.course_features import CourseFeatureConfig, cohort_means_of
from analytics_pipeline.predictive.drop_off import OUTPUT_COLUMNS, score_drop_off, scoring_cohort_parts, train_drop_off
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse.bulk import replace_snapshot
from analytics_pipeline.warehouse.predictive_store import (
    DEFAULT_CHUNK_LEARNERS, LearnerSet, catalog, learner_set, load_model, query, save_model,
)

TABLE = "predictive_analytics_cache"
GROUP = "predictive"
OWNERS = ["team:data-platform"]
SOURCE_KEYS = ["learning_events", "enrollments", "assessment_results", "user_preferences"]
TTL = pd.Timedelta(hours=CacheConfig().ttl_hours)  # the cache rows' lifetime, also the stored models'
# The content-effect evidence pairs a learner's events with their results: smaller chunks (memory).
RECOMMENDATION_CHUNK_LEARNERS = 10_000
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
    chunk_learners: int = DEFAULT_CHUNK_LEARNERS  # learners scored per chunk (memory bound)


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
               preferences: pd.DataFrame, run_id: str | None = None) -> dict:
    """Replace the cache rows of ``kind`` (module docstring) in one transaction; return metadata."""
    rows = to_cache_rows(kind, frame, T, preferences)
    opted_out = opted_out_users(kind, preferences)
    with replace_snapshot(warehouse.engine(), TABLE, T, json_columns=["data"], scope={"analytics_type": kind},
                          delete_existing=False, run_id=run_id) as writer:
        replaced = writer.delete_users(rows["user_id"])
        removed = writer.delete_users(opted_out)
        writer.write(rows)
    preview = rows.head(5).assign(data=rows["data"].head(5).map(str).str.slice(0, 200))
    return {
        "analytics_type": kind,
        "row_count": dg.MetadataValue.int(writer.rows),
        "rows_quarantined": dg.MetadataValue.int(writer.quarantined),  # a value the cache cannot hold
        "calculated_at": T.isoformat(),
        "expires_at": (T + TTL).isoformat() if len(rows) else dg.MetadataValue.null(),
        "learners_computed": dg.MetadataValue.int(len(frame)),  # the stale ones; fresh rows were kept
        "opted_out_learners": dg.MetadataValue.int(len(opted_out)),
        "opted_out_skipped": dg.MetadataValue.int(len(frame) - len(rows)),
        "opted_out_rows_removed": dg.MetadataValue.int(removed),
        "older_rows_replaced": dg.MetadataValue.int(replaced),
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
    cfg = drop_off_config(config)
    since = T - pd.Timedelta(days=config.history_days)
    with learner_set(warehouse.engine(), config.chunk_learners) as learners:
        started = time.perf_counter()
        courses, content = catalog(learners.conn, "courses"), catalog(learners.conn, "content_items")
        model = load_model(learners.conn, "drop_off_risk", T)
        reused = model is not None
        if not reused:
            learners.enrolled(T, config.training_learners)
            model = {**train_drop_off(*chunk_frames(learners, {"n": 1, "i": 0}, T, since), courses, content, T, cfg),
                     "training_learners": learners.count}
        trained = time.perf_counter()
        learners.enrolled(T)  # the cohorts (course, position) of every active enrollment, in chunks
        means = cohort_means_of([scoring_cohort_parts(*chunk_frames(learners, chunk, T, since), courses, content, T, cfg)
                                 for chunk in learners.chunks()]) if learners.count else None
        learners.stale("drop_off_risk", T)
        frames = [score_drop_off(model, *chunk_frames(learners, chunk, T, since), courses, content, T, cfg, means)
                  for chunk in learners.chunks()]
        preferences = query(learners.conn, "preferences")
        scored = time.perf_counter()
    if not reused:
        save_model(warehouse.engine(), "drop_off_risk", T, model, TTL)
    frame = concat(frames, OUTPUT_COLUMNS)
    evaluation = model["evaluation"]
    context.log.info(
        "drop-off: method %s (%s), AUC %s, Brier %s (base rate %s), %s training rows, %s learners recomputed",
        model["method"], "reused" if reused else "trained", evaluation["auc"], evaluation["brier"],
        evaluation.get("base_rate_brier"), evaluation["rows"], len(frame),
    )
    metadata = write_kind(warehouse, "drop_off_risk", frame, T, preferences, context.run_id)
    metadata.update(drop_off_metadata(evaluation))
    metadata["model_reused"] = reused
    metadata["model_trained_at"] = model.get("trained_at", T.isoformat())
    metadata["training_learners"] = dg.MetadataValue.int(int(model.get("training_learners", 0)))
    metadata["train_seconds"] = round(trained - started, 2)
    metadata["score_seconds"] = round(scored - trained, 2)
    levels = risk_levels(frame["probability"], frame["confidence_score"]) if len(frame) else []
    metadata["high_risk_learners"] = dg.MetadataValue.int(int((pd.Series(levels) == "high").sum()))
    return dg.MaterializeResult(metadata=metadata)


def chunk_frames(learners: LearnerSet, chunk: dict, T: pd.Timestamp, since: pd.Timestamp):
    """(events, enrollments, results) of one chunk of the learner set: enrollments not ended
    before ``since``, and every event/result since the earliest of them was enrolled."""
    enrollments = query(learners.conn, "dropout_enrollments", since=since, t=T, **chunk)
    first = pd.to_datetime(enrollments["enrolled_at"], utc=True).min() if len(enrollments) else T
    first = min(first, since) - pd.Timedelta(days=1)
    return (query(learners.conn, "dropout_events", since=first, t=T, **chunk), enrollments,
            query(learners.conn, "dropout_results", since=first, t=T, **chunk))


def concat(frames: list[pd.DataFrame], columns=("user_id", "data", "confidence_score")) -> pd.DataFrame:
    """The chunks' rows (no chunk: no learner to recompute, an empty frame)."""
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({c: pd.Series([], dtype="str" if c == "user_id" else float if c in ("probability", "confidence_score") else object)
                         for c in columns})


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
    cfg = ForecastConfig()
    with learner_set(warehouse.engine()) as learners:
        courses = catalog(learners.conn, "courses")
        learners.stale("forecast", T)
        frames = [forecast_completion(query(learners.conn, "events", since=T - pd.Timedelta(weeks=cfg.weeks), t=T, **chunk),
                                      query(learners.conn, "enrollments", since=T, t=T, **chunk), T, cfg, courses)
                  for chunk in learners.chunks()]
        preferences = query(learners.conn, "preferences")
    frame = concat(frames)
    return dg.MaterializeResult(metadata=write_kind(warehouse, "forecast", frame, T, preferences, context.run_id))


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
    rc = RecommendationConfig()
    with learner_set(warehouse.engine(), RECOMMENDATION_CHUNK_LEARNERS) as learners:
        conn = learners.conn
        items, course_skills, skills = (catalog(conn, n) for n in ("content_items", "course_skills", "skills"))
        model = load_model(conn, "recommendations", T)
        reused = model is not None
        if not reused:
            model = {"effects": item_effects_by_chunk(learners, items, T).to_dict("list")}
        effects = typed_effects(pd.DataFrame(model["effects"], columns=list(EFFECT_DTYPES)))
        learners.stale("recommendations", T)
        frames, with_gaps = [], 0
        for chunk in learners.chunks():
            enrollments = query(conn, "enrollments", since=T, t=T, **chunk)
            gaps = skill_gap_table(enrollments, course_skills, query(conn, "user_skills", t=T, **chunk), skills, T)
            active_ids = active_learners(enrollments, T)
            active = enrollments.loc[enrollments["user_id"].isin(active_ids), ["user_id", "course_id"]]
            frames.append(recommend_next(gaps, effects, items, query(conn, "used_content", t=T, **chunk),
                                         learner_courses=active, skills=skills, config=rc, learners=active_ids))
            with_gaps += int(gaps["user_id"].nunique())
        preferences = query(conn, "preferences")
    if not reused:
        save_model(warehouse.engine(), "recommendations", T, model, TTL)
    frame = concat(frames)
    metadata = write_kind(warehouse, "recommendations", frame, T, preferences, context.run_id)
    metadata["measured_item_effects"] = dg.MetadataValue.int(len(effects))
    metadata["learners_with_gaps"] = dg.MetadataValue.int(with_gaps)
    metadata["model_reused"] = reused
    return dg.MaterializeResult(metadata=metadata)


def item_effects_by_chunk(learners: LearnerSet, items: pd.DataFrame, T: pd.Timestamp) -> pd.DataFrame:
    """Content-effectiveness item effects (``item_effects``) over every learner, in chunks:
    additive evidence parts per chunk, summed, then turned into effects once."""
    cfg = ce.ContentEffectivenessConfig()
    learners.enrolled(T)
    parts = []
    for chunk in learners.chunks():
        events = query(learners.conn, "content_events", since=T - pd.Timedelta(days=cfg.lookback_days + cfg.effect_window_days),
                       t=T, **chunk)
        results = query(learners.conn, "assessment_results", since=T - pd.Timedelta(days=cfg.lookback_days), t=T, **chunk)
        parts.append(ce.effect_parts_of(items, events, results, T, cfg, keys=("content_id",))["content_id"])
    if not parts:
        return typed_effects(pd.DataFrame(columns=list(EFFECT_DTYPES)))
    return typed_effects(ce.effects_from_parts(*ce.combine_effect_parts(parts), "content_id", cfg))


EFFECT_DTYPES = {"content_id": "str", "skill_id": "str", "effect": "float64"}


def typed_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """Item effects with fixed dtypes: a stored model without effects (a platform without skills or
    results) reloads as empty float columns, which pandas refuses to merge with string skill ids."""
    return effects[list(EFFECT_DTYPES)].astype(EFFECT_DTYPES)


PREDICTIVE_ASSETS = [predictive_drop_off_risk, predictive_forecast, predictive_recommendations]

defs = dg.Definitions(assets=PREDICTIVE_ASSETS)
