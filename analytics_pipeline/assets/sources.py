"""Extraction assets: one per LMS endpoint, generated from ``sources.specs.SOURCES``.

Each asset reads its endpoint incrementally (watermark in ``extraction_watermarks``), validates
the rows against the contract, quarantines the invalid ones and upserts the rest, all in one
transaction (``sources/store/tables.py``). ``deletions`` runs last and applies ``/v1/deletions``.
Run config ``full_refresh: true`` re-reads from the beginning. Each asset carries a non-blocking
check that fails when the quarantined share of the run exceeds QUARANTINE_MAX_SHARE: the data
that passed is committed and consistent, the check tells the operator the source is unhealthy.
"""
import dagster as dg

from analytics_pipeline.orchestration.priorities import priority_tags
from analytics_pipeline.resources import LmsApiResource, WarehouseResource
from analytics_pipeline.settings import env
from analytics_pipeline.sources.store.deletions import DeletionSink
from analytics_pipeline.sources.store.tables import (
    DEFAULT_BATCH_ROWS, ExtractionStats, TableSink, analyze_loaded, extract, format_watermark, table_rows,
)
from analytics_pipeline.sources.specs import DELETIONS_RESOURCE, SOURCES, SourceSpec
from analytics_pipeline.sources.store.xapi import tables_from_lrs

GROUP = "sources"
OWNERS = ["team:data-platform"]
KINDS = {"api", "postgres"}
CODE_VERSION = "1"
CHECK_NAME = "quarantine_share"


class ExtractionConfig(dg.Config):
    """Run config of the extraction assets."""

    full_refresh: bool = False  # read everything again instead of rows newer than the watermark
    batch_rows: int = DEFAULT_BATCH_ROWS  # rows validated and upserted together (memory bound)


def quarantine_check(key: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME, asset=key, blocking=False,
        description="Fails when the share of this run's rows sent to the quarantine exceeds QUARANTINE_MAX_SHARE.",
    )


def _metadata(stats: ExtractionStats, rows: tuple[int, bool] | None, lms_api: LmsApiResource) -> dict:
    metadata = {
        "rows_received": stats.rows_received,
        "rows_inserted": stats.inserted,
        "rows_updated": stats.updated,
        "rows_unchanged": stats.unchanged,
        "rows_quarantined_invalid": stats.quarantined_invalid,
        "rows_quarantined_unknown_parent": stats.quarantined_orphans,
        "rows_dropped_erased": stats.dropped_erased,  # learners erased while the batch was written
        "rows_deleted": stats.deleted,
        "child_rows_written": stats.child_rows,
        "pages": stats.pages,
        "api_attempts": stats.api_attempts,
        "api_retries": stats.api_retries,
        "megabytes_received": round(stats.bytes / 1e6, 3),
        "elapsed_seconds": round(stats.elapsed, 3),
        "rows_per_second": round(stats.rows_per_second, 1),
        "full_refresh": stats.full_refresh,
        "watermark_before": format_watermark(stats.watermark_before) or "none",
        "watermark_after": format_watermark(stats.watermark_after) or "none",
        "source": lms_api.describe(),
    }
    if rows is not None:  # (count, exact): large tables carry the planner's estimate (tables.table_rows)
        metadata["dagster/row_count"], metadata["row_count_exact"] = rows
    if stats.preview is not None and not stats.preview.empty:
        metadata["preview"] = dg.MetadataValue.md(stats.preview.astype(str).to_markdown(index=False))
    return metadata


def _check_result(key: str, stats: ExtractionStats) -> dg.AssetCheckResult:
    limit = float(env("QUARANTINE_MAX_SHARE"))
    return dg.AssetCheckResult(
        check_name=CHECK_NAME, asset_key=key, passed=stats.quarantined_share <= limit,
        metadata={"quarantined": stats.quarantined, "rows_received": stats.rows_received,
                  "share": round(stats.quarantined_share, 6), "max_share": limit},
    )


def build_extraction_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """The asset that extracts ``spec.resource`` into ``spec.table``."""

    @dg.asset(
        name=spec.table, group_name=GROUP, kinds=KINDS, owners=OWNERS, code_version=CODE_VERSION,
        deps=list(spec.deps), check_specs=[quarantine_check(spec.table)], op_tags=priority_tags(spec.table),
        description=f"{spec.description} Extracted from GET /v1/{spec.resource} into `{spec.table}` "
                    "(incremental by watermark; invalid rows and rows with an unknown parent go to `quarantine`).",
    )
    def extraction_asset(
        context: dg.AssetExecutionContext, config: ExtractionConfig, lms_api: LmsApiResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        with lms_api.client(context.log) as client:
            stats = extract(
                warehouse.engine(), client, spec.resource,
                lambda conn, stats: TableSink(conn, spec, stats, context.run_id, defer_indexes=True),
                run_id=context.run_id, full_refresh=config.full_refresh, batch_rows=config.batch_rows, log=context.log,
            )
        analyzed = analyze_loaded(warehouse.engine(), spec, stats)
        return dg.MaterializeResult(
            metadata={**_metadata(stats, table_rows(warehouse.engine(), spec.table), lms_api),
                      "tables_analyzed": ", ".join(analyzed) or "none"},
            check_results=[_check_result(spec.table, stats)],
        )

    return extraction_asset


@dg.asset(
    name="deletions", group_name=GROUP, kinds=KINDS, owners=OWNERS, code_version=CODE_VERSION,
    deps=[spec.table for spec in SOURCES], check_specs=[quarantine_check("deletions")],
    op_tags=priority_tags("deletions"),
    description="Applies GET /v1/deletions after every other source: each published deletion removes the row "
                "(and what hangs on it); a user's deletion erases the user's rows from every raw table and every "
                "table with a foreign key to users (sources/deletions.py).",
)
def deletions(
    context: dg.AssetExecutionContext, config: ExtractionConfig, lms_api: LmsApiResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with lms_api.client(context.log) as client:
        stats = extract(
            warehouse.engine(), client, DELETIONS_RESOURCE,
            lambda conn, stats: DeletionSink(conn, stats, context.run_id),
            run_id=context.run_id, full_refresh=config.full_refresh, batch_rows=config.batch_rows, log=context.log,
        )
    return dg.MaterializeResult(
        metadata=_metadata(stats, None, lms_api), check_results=[_check_result("deletions", stats)]
    )


SOURCE_ASSETS = [build_extraction_asset(spec) for spec in SOURCES]
# The tables an xAPI LRS supplies under the configuration come from assets/xapi.py instead.
FROM_LRS = tables_from_lrs()

defs = dg.Definitions(assets=[a for a in [*SOURCE_ASSETS, deletions] if a.key.path[-1] not in FROM_LRS])
