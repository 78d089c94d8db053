"""The xAPI source: one multi-asset reads the LRS's statements into the raw tables it supplies.

Selected by configuration (``settings.py``): with ``XAPI_LRS_URL`` unset this module defines
nothing and the contract supplies every raw table. With it set, ``xapi_statements`` supplies
``learning_events`` and ``assessment_results`` in place of the contract's extraction assets
(same asset keys, so everything downstream is unchanged); with ``XAPI_ROSTERS=lrs`` it also
supplies ``users``, ``courses``, ``content_items`` and ``enrollments`` and stands in for the
contract-only tables (organizations, skills, user_skills, user_preferences, deletions), which
the LRS cannot fill and leaves as they are. ``assets/sources.py`` leaves out the contract assets
of the tables listed by :func:`tables_from_lrs`.
"""
import dagster as dg

from analytics_pipeline.assets.sources import (CODE_VERSION, GROUP, OWNERS, ExtractionConfig, _check_result,
                                               quarantine_check)
from analytics_pipeline.resources import WarehouseResource, XapiLrsResource
from analytics_pipeline.settings import env
from analytics_pipeline.sources.store.tables import format_watermark, table_rows
from analytics_pipeline.sources.store.xapi import (ACTIVITY_TABLES, ROSTER_TABLES, XapiStats, analyze_loaded_tables,
                                                    extract_statements, tables_from_lrs)

KINDS = {"xapi", "postgres"}
CHECKED = "learning_events"
DESCRIPTIONS = {
    "learning_events": "Learning events from the LRS's statements (started/progressed/completed verbs; "
                       "see the mapping table in sources/xapi_mapping.py).",
    "assessment_results": "Assessment results from the LRS's scored statements (passed/failed/scored/evaluated/earned).",
    "users": "Users from the statements' actors (ids from account, mbox or mbox_sha1sum; no e-mail address kept).",
    "courses": "Courses from the statements' course activities (objects and context parents).",
    "content_items": "Content items from the statements' objects (activity type -> content type).",
    "enrollments": "Enrollments recomputed from the statements (registered/unregistered, events, completion).",
}
ROSTER_DEPS = {"learning_events": ["users", "courses", "content_items"], "assessment_results": ["users", "courses"]}


def _stats_metadata(stats: XapiStats, table: str, rows: tuple[int, bool], lrs: XapiLrsResource) -> dict:
    written = stats.tables.get(table)
    metadata = {
        "statements_read": stats.rows_received,
        "statements_quarantined": stats.quarantined,
        "statements_unknown_actor": stats.unknown_actors,
        "statements_skipped_known_verbs": stats.skipped,
        "statements_before_watermark": stats.statements_before_watermark,
        "voided_rows_deleted": stats.voided,
        "pages": stats.pages,
        "api_attempts": stats.api_attempts,
        "api_retries": stats.api_retries,
        "elapsed_seconds": round(stats.elapsed, 3),
        "watermark_before": format_watermark(stats.watermark_before) or "none",
        "watermark_after": format_watermark(stats.watermark_after) or "none",
        "source": lrs.describe(),
        "dagster/row_count": rows[0],
        "row_count_exact": rows[1],  # large tables: the planner's estimate (tables.table_rows)
    }
    if written is not None:
        metadata |= {"rows_inserted": written.inserted, "rows_updated": written.updated}
    if table == "enrollments":
        metadata |= {"rows_written": stats.enrollments_written, "erased_learner_retries": stats.erased_learner_retries}
    return metadata


def build_xapi_asset(tables: tuple[str, ...], rosters: str) -> dg.AssetsDefinition:
    """The multi-asset that reads the statements and materializes ``tables``."""
    specs = [
        dg.AssetSpec(
            table, group_name=GROUP, kinds=KINDS, owners=OWNERS, code_version=CODE_VERSION,
            deps=ROSTER_DEPS.get(table, []) if rosters == "contract" else [],
            description=DESCRIPTIONS.get(table, f"Not supplied by the LRS (XAPI_ROSTERS=lrs): `{table}` is left as it is."),
        )
        for table in tables
    ]

    @dg.multi_asset(name="xapi_statements", specs=specs, check_specs=[quarantine_check(CHECKED)])
    def xapi_statements(context: dg.AssetExecutionContext, config: ExtractionConfig, xapi_lrs: XapiLrsResource,
                        warehouse: WarehouseResource):
        with xapi_lrs.client(context.log) as client:
            stats = extract_statements(
                warehouse.engine(), client, run_id=context.run_id, rosters=xapi_lrs.rosters,
                platform_url=xapi_lrs.platform_url, default_passing_score=xapi_lrs.default_passing_score,
                since_overlap_seconds=xapi_lrs.since_overlap_seconds, full_refresh=config.full_refresh,
                batch_statements=config.batch_rows, log=context.log,
            )
        analyzed = analyze_loaded_tables(warehouse.engine(), stats)
        for table in tables:
            if table in (*ACTIVITY_TABLES, *ROSTER_TABLES):
                metadata = {**_stats_metadata(stats, table, table_rows(warehouse.engine(), table), xapi_lrs),
                            "statistics_refreshed": table in analyzed}
            else:
                metadata = {"supplied_by": "none (XAPI_ROSTERS=lrs)"}
            yield dg.MaterializeResult(asset_key=table, metadata=metadata)
        yield _check_result(CHECKED, stats)

    return xapi_statements


def _definitions() -> dg.Definitions:
    tables = tables_from_lrs()
    if not tables:
        return dg.Definitions()
    return dg.Definitions(assets=[build_xapi_asset(tables, env("XAPI_ROSTERS"))],
                          resources={"xapi_lrs": XapiLrsResource.from_environment()})


defs = _definitions()
