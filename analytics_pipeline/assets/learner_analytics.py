"""The six learner analytics as daily-partitioned Dagster assets, generated from one spec.

Partition day D has snapshot instant T = D + 1 day (UTC midnight ending the day). Each asset
runs ``analytics.store.run_snapshot``: reads the rows known at T by learner hash
chunks, calls the pure function of ``analytics``, validates each chunk with the category's
quality suite (``quality``: GX expectation types, evaluated with vectorised pandas; GX itself
is the reference engine, same results) and COPYs it, all in one transaction that replaces the
snapshot of T. A critical expectation failing stops the write (rolled back, the previous
snapshot stays), the ``quality`` check shows failed with the failing expectations, and the
asset fails. Warning-only expectations are reported by the ``quality_warnings`` check.
"""
from dataclasses import dataclass
from typing import Dict, Literal, Optional

import dagster as dg
import pandas as pd

from analytics_pipeline.analytics import CATEGORIES, CONFIGS
from analytics_pipeline.orchestration.column_docs import column_description
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.orchestration.priorities import priority_tags
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.analytics.store import (
    DEFAULT_CHUNK_LEARNERS, JSON_COLUMNS, SOURCE_TABLES, QualityError, SnapshotReport,
    category_config, run_snapshot, update_activity_summary, update_daily_activity)

GROUP = "learner_analytics"
OWNERS = ["team:learner-analytics"]
CODE_VERSION = "1"
QUALITY_CHECK = "quality"
WARNINGS_CHECK = "quality_warnings"
# every published number computed a second way (warehouse/independent_check.py), severity WARN
INDEPENDENT_CHECK = "independent_check"

# Raw table -> the extraction asset (group `sources`) that loads it.
SOURCE_ASSET = {"users": "users", "enrollments": "enrollments", "courses": "courses",
                "course_skills": "courses", "skills": "skills", "user_skills": "user_skills",
                "content_items": "content_items", "assessment_results": "assessment_results",
                "learning_events": "learning_events",
                "learner_activity_summary": "learner_activity_summary",
                "learner_daily_activity": "learner_daily_activity",
                "learner_daily_item_use": "learner_daily_activity"}


@dataclass(frozen=True)
class Spec:
    name: str          # category (key of analytics.CATEGORIES)
    formula: str       # description summary (docs/analytics.md has the details)
    columns: str       # "column type, ..." of the table (without id)


SPECS = [
    Spec("velocity",
         "Per active enrollment pace = Σ progress_delta in the 28 days to T / 4 (points/week); "
         "current_pace = mean pace, target_pace = mean (100 − progress at T) / weeks left; "
         "trend = last 14 d vs the 14 before (±10 %); status ahead ≥1.1×, on_track ≥0.9×, "
         "behind ≥0.5× target, else (or no event in 14 d) at_risk.",
         "current_pace numeric(5,2), target_pace numeric(16,2), trend_direction text, "
         "trend_percentage numeric(5,2), status text, estimated_completion timestamptz"),
    Spec("skill_gap",
         "Per skill required by an active course: gap = max(0, max target_level − mastery "
         "known at T); priority = gap × active courses needing it; critical = gap ≥ 40.",
         "total_gaps integer, critical_gaps integer, gaps jsonb, top_priority jsonb"),
    Spec("engagement",
         "Sessions (30-min gap) of the last 56 days; score = 100 × (0.35 min(sessions/week/5,1) "
         "+ 0.25 min(minutes/60,1) + 0.25 · 0.5^(days since last event/7) + 0.15 min(types/5,1)); "
         "weekly scores of 8 weeks, trend = last 2 vs 2 before (±10 %).",
         "overall_score integer, trend text, sessions_per_week numeric(5,2), "
         "avg_session_duration integer, last_active timestamptz, engagement_by_type jsonb, "
         "weekly_trend jsonb"),
    Spec("mastery",
         "Skills known at T: mastered ≥ 80, in progress 0 < m < 80, bands beginner < 30 ≤ "
         "intermediate < 70 ≤ advanced < 90 ≤ expert.",
         "mastered_skills integer, in_progress_skills integer, skills jsonb, "
         "mastery_distribution jsonb"),
    Spec("performance",
         "Results of the 90 days to T: mean score, count, pass rate in percent (score ≥ "
         "passing score), trend = least-squares slope of the last 10 (±1 point/assessment).",
         "avg_score numeric(5,2), trend text, assessments_taken integer, pass_rate numeric(5,2), "
         "performance_by_skill jsonb, recent_scores jsonb"),
    Spec("content_effectiveness",
         "Effect of an item on a skill = mean score of results within 14 days after completing "
         "it − mean score of results without using it (≥ 10 learners each side, results of the "
         "90 days to T, computed once over all learners); per learner the most / least "
         "effective items (or types) used in 28 days and recommendations for the top gaps.",
         "most_effective jsonb, least_effective jsonb, recommendations jsonb"),
]


class LearnerAnalyticsConfig(dg.Config):
    """Run configuration shared by the six assets (the TTL default differs per category)."""

    ttl_hours: float = 24.0
    chunk_learners: int = DEFAULT_CHUNK_LEARNERS
    thresholds: Dict[str, float] = {}
    # "gx": the suite run by Great Expectations (default); "pandas": the same expectations
    # evaluated with vectorised pandas (no GX import, milliseconds a chunk; tests/quality
    # proves both report the same failures)
    quality_engine: Literal["gx", "pandas"] = "gx"


def _config_class(spec: Spec) -> type:
    ttl_hours = CONFIGS[spec.name]().ttl / pd.Timedelta(hours=1)
    camel = "".join(part.title() for part in spec.name.split("_"))
    return type(f"{camel}AnalyticsConfig", (LearnerAnalyticsConfig,), {
        "__annotations__": {"ttl_hours": float},
        "ttl_hours": ttl_hours,
        "__module__": __name__,
        "__doc__": (f"{spec.name}: expires_at = calculated_at + ttl_hours (default {ttl_hours:g}); "
                    f"thresholds override fields of {CONFIGS[spec.name].__name__}; "
                    "chunk_learners = learners per hash chunk."),
    })


def _table_schema(spec: Spec) -> dg.TableSchema:
    cols = [("user_id", "text")] + [tuple(c.strip().split(" ", 1)) for c in spec.columns.split(", ")]
    cols += [("calculated_at", "timestamptz"), ("expires_at", "timestamptz")]
    table = CATEGORIES[spec.name][1]
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description=column_description(table, name))
                                   for name, type_ in cols])


def _markdown(frame: Optional[pd.DataFrame], json_columns) -> str:
    if frame is None or frame.empty:
        return "(no rows)"
    shown = frame.copy()
    for c in shown.columns:
        if c in json_columns or shown[c].dtype == object:
            shown[c] = shown[c].map(lambda v: (str(v)[:80] + "…") if len(str(v)) > 80 else str(v))
    return shown.to_markdown(index=False)


def _distribution_md(dist: pd.Series) -> str:
    if dist.empty:
        return "(no rows)"
    return pd.DataFrame({"value": dist.index.astype(str), "learners": dist.to_numpy()}) \
        .to_markdown(index=False)


def _check_results(key: dg.AssetKey, report_quality, failed_chunk=None) -> list:
    failures = report_quality.failures if report_quality else []
    warnings = report_quality.warnings if report_quality else []
    evaluated = report_quality.evaluated if report_quality else 0
    return [
        dg.AssetCheckResult(
            asset_key=key, check_name=QUALITY_CHECK, passed=not failures,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"failed_expectations": dg.MetadataValue.json(failures),
                      "expectations_evaluated": evaluated,
                      "rows_validated": report_quality.rows if report_quality else 0,
                      **({"failed_chunk": failed_chunk} if failed_chunk is not None else {}),
                      "summary": report_quality.describe() if report_quality else ""}),
        dg.AssetCheckResult(
            asset_key=key, check_name=WARNINGS_CHECK, passed=not warnings,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"warnings": dg.MetadataValue.json(warnings),
                      "summary": report_quality.describe("warnings") if report_quality else ""}),
    ]


def independent_check_spec(key: dg.AssetKey, what: str, blocking: bool = False) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        INDEPENDENT_CHECK, asset=key, blocking=blocking,
        description=(f"{what} computed a second way (one SQL statement over the raw tables, "
                     "sql/queries/checks/) and compared key by key with what was published; the "
                     "mismatching keys are in the metadata (a warning: the rows stay published)."))


def independent_check_result(key: dg.AssetKey, report: dict) -> dg.AssetCheckResult:
    """The check's outcome as a WARN result with the mismatching keys in the metadata."""
    return dg.AssetCheckResult(
        asset_key=key, check_name=INDEPENDENT_CHECK, passed=report["passed"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"summary": independent_check.summary(report),
                  "compared": report["compared"],
                  # every learner, or the hash sample compared on both sides (large platforms)
                  "learners_compared": independent_check.learners_compared(report),
                  "mismatching_count": report["mismatching_count"],
                  "mismatching": dg.MetadataValue.json(report["mismatching"]),
                  "columns": dg.MetadataValue.json(report["columns"]),
                  "only_published": dg.MetadataValue.json(report["only_published"]),
                  "only_independent": dg.MetadataValue.json(report["only_independent"]),
                  **({"error": report["error"]} if "error" in report else {})})


def _materialization_metadata(spec: Spec, report: SnapshotReport, schema: dg.TableSchema,
                              ttl_hours: float) -> dict:
    sources = list(SOURCE_TABLES[spec.name])
    return {
        "dagster/row_count": report.rows,
        "dagster/column_schema": schema,
        "preview": dg.MetadataValue.md(_markdown(report.preview, JSON_COLUMNS[spec.name])),
        "distribution": dg.MetadataValue.md(_distribution_md(report.distribution)),
        "distribution_of": str(report.distribution.name),
        "distribution_counts": dg.MetadataValue.json(
            {str(k): int(v) for k, v in report.distribution.items()}),
        "source_tables": dg.MetadataValue.json(sources),
        "snapshot_instant": report.T.isoformat(),
        "ttl_hours": ttl_hours,
        "elapsed_seconds": round(report.elapsed, 3),
        "rows_per_second": round(report.rows_per_second, 1),
        "chunks": report.chunks,
        "rows_per_chunk": dg.MetadataValue.json(report.chunk_rows),
        "seconds_by_phase": dg.MetadataValue.json(
            {k: round(v, 3) for k, v in report.seconds.items()}),
        "quality_warnings": len(report.quality.warnings) if report.quality else 0,
        "rows_quarantined": report.quarantined,  # learner rows the table cannot hold (see quarantine)
        "rows_dropped_erased": report.dropped_erased,  # rows of learners erased while the step wrote
        "erased_learner_retries": report.erased_learner_retries,
        "snapshot_path": report.path,  # "carry": unchanged learners' rows copied from T - 1 day
        "carry_fallback": report.fallback or "",
        "learners_recomputed": report.learners_recomputed,
        "learners_carried": report.learners_carried,
        "read_from_rollup": report.rollup,  # learner_daily_activity exact for T (issue 18)
        "rollup_scans": report.rollup_scans,  # statements that read the rollup (one per group of chunks)
        "effect_scans": report.effect_scans,  # statements that read content effectiveness' evidence
    }


def build_asset(spec: Spec) -> dg.AssetsDefinition:
    """The asset of one category (all six come from SPECS through this factory)."""
    _fn, table = CATEGORIES[spec.name]
    key = dg.AssetKey(table)
    config_class = _config_class(spec)
    schema = _table_schema(spec)
    upstream = sorted({SOURCE_ASSET[t] for t in (*SOURCE_TABLES[spec.name], "users")})
    default_ttl = CONFIGS[spec.name]().ttl / pd.Timedelta(hours=1)

    @dg.asset(
        name=table,
        group_name=GROUP,
        op_tags=priority_tags(table),
        partitions_def=DAILY_PARTITIONS,
        kinds={"pandas", "postgres"},
        owners=OWNERS,
        code_version=CODE_VERSION,
        deps=[dg.AssetKey(k) for k in upstream],
        description=(f"{spec.formula} One row per learner per daily snapshot (calculated_at = T = "
                     f"end of the partition day, UTC; expires_at = T + {default_ttl:g} h by "
                     "default); rows known at T only, so backfills give the values of that day. "
                     "See docs/analytics.md and docs/learner-analytics-assets.md."),
        metadata={"dagster/column_schema": schema, "dagster/table_name": f"public.{table}",
                  "source_tables": dg.MetadataValue.json(list(SOURCE_TABLES[spec.name]))},
        check_specs=[
            dg.AssetCheckSpec(QUALITY_CHECK, asset=key, blocking=True,
                              description=f"Quality suite {spec.name!r} (critical GX-type "
                                          "expectations) on every chunk before it is written."),
            dg.AssetCheckSpec(WARNINGS_CHECK, asset=key,
                              description=f"Warning-only expectations of suite {spec.name!r} "
                                          "(at least one row, distribution sanity)."),
            *([independent_check_spec(key, f"Every {table} row")]
              if spec.name in independent_check.CHECKS else []),
        ],
    )
    def _asset(context: dg.AssetExecutionContext, config: config_class,
               warehouse: WarehouseResource):
        T = snapshot_instant(context)
        cfg = category_config(spec.name, pd.Timedelta(hours=config.ttl_hours),
                              dict(config.thresholds))
        try:
            report = run_snapshot(warehouse.engine(), spec.name, T, cfg,
                                  chunk_learners=config.chunk_learners,
                                  quality_engine=config.quality_engine, run_id=context.run_id)
        except QualityError as exc:
            for result in _check_results(key, exc.outcome, exc.chunk):
                yield result
            raise dg.Failure(
                description=str(exc),
                metadata={"failed_expectations": dg.MetadataValue.json(exc.outcome.failures)},
            ) from None
        context.log.info(
            f"{table} at {T.isoformat()}: {report.rows} rows in {report.chunks} chunk(s), "
            f"{report.elapsed:.2f} s ({report.rows_per_second:.0f} rows/s)")
        checks = _check_results(key, report.quality)
        if spec.name in independent_check.CHECKS:
            truth = independent_check.check_or_error(warehouse.engine(), spec.name, T,
                                                     independent_check.nightly_max_learners(),
                                                     independent_check.nightly_timeout_seconds())
            context.log.info(independent_check.summary(truth))
            checks.append(independent_check_result(key, truth))
        yield dg.MaterializeResult(
            metadata=_materialization_metadata(spec, report, schema, config.ttl_hours),
            check_results=checks,
        )

    return _asset


def _maintained_table(name: str, deps: list[str], description: str, update) -> dg.AssetsDefinition:
    """A daily-partitioned table of this group brought to T by ``update(engine, T) -> counts``
    (its store function); the counts are the materialization's metadata."""

    @dg.asset(name=name, group_name=GROUP, partitions_def=DAILY_PARTITIONS, kinds={"postgres"},
              owners=OWNERS, code_version=CODE_VERSION, deps=[dg.AssetKey(d) for d in deps],
              op_tags=priority_tags(name),
              description=description, metadata={"dagster/table_name": f"public.{name}"})
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        T = snapshot_instant(context)
        counts = update(warehouse.engine(), T)
        context.log.info(f"{name} at {T.isoformat()}: {counts}")
        return dg.MaterializeResult(metadata={"snapshot_instant": T.isoformat(), **counts})

    return _asset


learner_activity_summary = _maintained_table(
    "learner_activity_summary", ["learning_events", "assessment_results"],
    "Per learner, the activity facts that must outlive the raw rows: first / last "
    "learning event and assessment result, and how many rows retention removed "
    "(learner_activity_summary; learner_activity_lifetime adds the rows still "
    "retained). Folds in the rows older than T - 90 d once each, before the "
    "snapshots of T and the nightly's retention; engagement's last_active reads it.",
    update_activity_summary)

learner_daily_activity = _maintained_table(
    "learner_daily_activity", ["learning_events", "deletions"],  # deletions first: as daily_activity
    "Per learner x course x content type x UTC day (bin (day, day + 1]): events, "
    "summed duration and progress_delta, first / last event (issue 18); and per "
    "learner x day the sessions of that day's events (learner_daily_sessions, "
    "migration 0018), and per learner x content item x day the first / last event "
    "and completion (learner_daily_item_use, migration 0021). Brought to T "
    "incrementally: only the cells touched by events ingested since its as-of (or "
    "marked stale by updates and deletions) are recomputed from the events known at "
    "T; velocity, engagement (stitching its sessions from the day parts) and content "
    "effectiveness (its evidence from the item cells) read it instead of the raw "
    "events when it is exact for T. A past partition (as-of later) changes nothing. "
    "Days before T - 90 d are removed (item cells: T - 91 d).",
    update_daily_activity)


ASSETS = [learner_activity_summary, learner_daily_activity,
          *(build_asset(spec) for spec in SPECS)]

defs = dg.Definitions(assets=ASSETS)
