"""The analyst report: one self-contained HTML page per nightly run, written to REPORTS_DIR.

Wiring only, over the reporting layer: ``reporting/store.py`` (reads), ``reporting/render.py``
(pure rendering) and ``reporting/publish.py`` (the files). What only Dagster knows — the latest
evaluation of every asset check, the materialized days — is read here. It depends
on every other asset of the code location, so within the nightly job it runs last and its
"pipeline health" section sees the night's results.
"""

import importlib
import pkgutil

import dagster as dg
import pandas as pd

from analytics_pipeline import assets as assets_package
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.reporting import render_report, summary_markdown
from analytics_pipeline.reporting.publish import publish_latest, write_report
from analytics_pipeline.reporting.store import collect_report_data
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.settings import load_settings


def _other_layer_keys() -> list[dg.AssetKey]:
    """Keys of the assets every other module of ``analytics_pipeline.assets`` defines."""
    keys: set[dg.AssetKey] = set()
    for info in pkgutil.iter_modules(assets_package.__path__):
        if info.name == __name__.rsplit(".", 1)[-1]:
            continue
        layer_defs = getattr(importlib.import_module(f"{assets_package.__name__}.{info.name}"), "defs", None)
        if isinstance(layer_defs, dg.Definitions):
            for item in layer_defs.assets or []:
                if isinstance(item, dg.AssetsDefinition):
                    keys.update(item.keys)
                elif isinstance(item, dg.AssetSpec):
                    keys.add(item.key)
    return sorted(keys, key=lambda k: k.to_user_string())


def latest_check_results(instance: dg.DagsterInstance, check_keys) -> pd.DataFrame:
    """The latest evaluation of each asset check, from Dagster's instance (no record: not run)."""
    rows = []
    for key in sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = instance.get_latest_asset_check_evaluation_record(key)
        status = record.status.value if record else "NOT RUN"
        when = pd.Timestamp(record.create_timestamp, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M UTC") if record else None
        rows.append({"asset": key.asset_key.to_user_string(), "check": key.name, "status": status, "when": when})
    return pd.DataFrame(rows, columns=["asset", "check", "status", "when"])


def _check_keys(context: dg.AssetExecutionContext):
    """Every asset check of the code location (of the job when run outside one, e.g. dg.materialize)."""
    try:
        return context.repository_def.asset_graph.asset_check_keys
    except Exception:  # no repository on the context
        return context.job_def.asset_layer.asset_graph.asset_check_keys


@dg.asset(
    group_name="reporting",
    kinds={"plotly", "html"},
    owners=["team:analytics"],
    partitions_def=DAILY_PARTITIONS,
    code_version="2",
    deps=_other_layer_keys(),
    description=(
        "Self-contained HTML report for analysts (plotly.js inlined, opens offline), written after each nightly run to "
        "REPORTS_DIR/analyst_report_YYYY-MM-DD.html; REPORTS_DIR/latest.html is the newest day's (a backfill of an "
        "older day leaves it). Its summary is the `summary` metadata of each materialization. Sections: learners "
        "at high risk of dropping off (from the drop-off predictions, with reasons and confidence), engagement "
        "('no activity' apart, never a score of 0) and velocity shares per organisation, most common skill gaps, "
        "weekly leaderboard top 10 (hidden learners left out, anonymous ones masked), k-suppressed peer "
        "comparisons, pipeline health for the day. One k rule for every group. Renders on empty tables too."
    ),
)
def analyst_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = load_settings()
    partition = context.partition_key
    with warehouse.engine().connect() as conn:
        data = collect_report_data(conn, partition, snapshot_instant(context), settings.k_anonymity)
    data.checks = latest_check_results(context.instance, _check_keys(context))
    html_text = render_report(data)
    folder = settings.reports_dir
    path = write_report(folder, partition, html_text)
    newest, is_newest = publish_latest(folder, partition,
                                       lambda: context.instance.get_materialized_partitions(context.asset_key))
    failed = int((data.checks["status"] == "FAILED").sum()) if not data.checks.empty else 0
    return dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.md(summary_markdown(data, path, newest)),
        "path": dg.MetadataValue.path(str(path)),
        "url": dg.MetadataValue.url(path.resolve().as_uri()),
        "newest_partition": newest,
        "is_newest_partition": is_newest,
        "latest_html": dg.MetadataValue.path(str(folder / "latest.html")),
        "bytes": len(html_text.encode("utf-8")),
        "learners_with_engagement": len(data.engagement),
        "learners_at_high_risk": int((data.drop_off["risk_level"] == "high").sum()) if not data.drop_off.empty else 0,
        "leaderboard_rows": len(data.leaderboard),
        "peer_groups_published": len(data.peers),
        "failed_checks": failed,
    })


defs = dg.Definitions(assets=[analyst_report])
