"""The analyst report: one self-contained HTML page per nightly run, written to REPORTS_DIR.

Thin over ``analytics_pipeline.reporting`` (pure rendering) and ``sql/queries/reporting/``
(reads; the leaderboard comes from the masked view leaderboard_weekly: hidden learners left out,
anonymous ones masked, as sql/migrations/0005_gamification.sql builds it). It depends
on every other asset of the code location, so within the nightly job it runs last and its
"pipeline health" section sees the night's results.
"""

import fcntl
import importlib
import os
import pkgutil
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline import assets as assets_package
from analytics_pipeline.orchestration.partitions import DAILY_PARTITIONS, snapshot_instant
from analytics_pipeline.orchestration.table_counts import COUNTED_TABLES, row_counts
from analytics_pipeline.reporting import ReportData, render_report, summary_markdown
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.settings import load_settings
from analytics_pipeline.warehouse import sql_text

TOP_N = 10
CRITICAL_GAP = 40.0


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


def _read(conn, name: str, **params) -> pd.DataFrame:
    result = conn.execute(sa.text(sql_text(f"reporting/{name}.sql")), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def day_table_rows(conn, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows per counted table for the reported day: a snapshot table (one with ``calculated_at``)
    counts the rows of the day's snapshot (calculated_at = T), any other table every row it holds
    now; ``rows`` None when the table does not exist yet."""
    snapshot_tables = set(conn.execute(sa.text(
        "select table_name from information_schema.columns where table_schema = 'public' "
        "and column_name = 'calculated_at' and table_name = any(:tables)"), {"tables": list(COUNTED_TABLES)}).scalars())
    totals = row_counts(conn)
    rows = []
    for table in COUNTED_TABLES:
        if table in snapshot_tables:
            count = conn.execute(sa.text(f'select count(*) from "{table}" where calculated_at = :t'),
                                 {"t": as_of.to_pydatetime()}).scalar_one()
            rows.append((table, int(count), "day"))
        else:
            rows.append((table, totals[table], "all"))
    return pd.DataFrame(rows, columns=["table", "rows", "scope"])


def publish_latest(instance: dg.DagsterInstance, asset_key: dg.AssetKey, folder: Path, partition: str) -> tuple[str, bool]:
    """Copy this day's report to ``latest.html`` when it is the newest day: of the asset's
    materialized partitions and the dated report files (this run's is written already). A backfill
    of an older day leaves latest.html alone. Under an exclusive lock on the folder, so a backfill
    run finishing beside the nightly run cannot put an older day back. Returns (newest day, is this it)."""
    with open(folder / ".latest.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        days = set(instance.get_materialized_partitions(asset_key))
        days |= {p.stem.removeprefix("analyst_report_") for p in folder.glob("analyst_report_????-??-??.html")}
        newest = max(days | {partition})
        if partition >= newest:
            temporary = folder / f".latest.{partition}.tmp"
            shutil.copyfile(folder / f"analyst_report_{partition}.html", temporary)
            os.replace(temporary, folder / "latest.html")
    return newest, partition >= newest


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


def collect_report_data(conn, partition: str, as_of: pd.Timestamp, k_anonymity: int) -> ReportData:
    at = as_of.to_pydatetime()
    return ReportData(
        partition=partition,
        generated_at=pd.Timestamp.now(tz="UTC"),
        engagement=_read(conn, "engagement_by_organization", as_of=at),
        velocity=_read(conn, "velocity_status_by_organization", as_of=at),
        skill_gaps=_read(conn, "common_skill_gaps", as_of=at, critical_gap=CRITICAL_GAP, top=15),
        leaderboard=_read(conn, "leaderboard_top", top=TOP_N),
        peers=_read(conn, "peer_comparisons"),
        drop_off=_read(conn, "drop_off_risk", as_of=at),
        table_rows=day_table_rows(conn, as_of),
        quarantine=_read(conn, "quarantine_share"),
        k_anonymity=k_anonymity,
    )


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
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"analyst_report_{partition}.html"
    path.write_text(html_text, encoding="utf-8")
    newest, is_newest = publish_latest(context.instance, context.asset_key, folder, partition)
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
