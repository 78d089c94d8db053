"""The analyst report: pure rendering (empty and filled frames) and the asset end to end on a
real warehouse — privacy of hidden and anonymous learners, empty first run, self-contained HTML."""
from __future__ import annotations

import re

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.reporting import ReportData, render_report

HIDDEN_NAME = "Zephyrine Hiddenhoff-4711"
ANONYMOUS_NAME = "Quillon Anonymark-0815"
PUBLIC_NAME = "Petra Publicova"


def _no_external_resources(page: str) -> None:
    assert not re.search(r"<script[^>]+src=", page), "a script is loaded from elsewhere"
    assert not re.search(r"<link[^>]+href=", page), "a stylesheet is loaded from elsewhere"
    assert "Plotly.newPlot" in page or "No " in page
    assert "plotly.js" in page.lower()  # the library itself is inlined


def test_renders_when_everything_is_empty():
    page = render_report(ReportData("2026-01-15", pd.Timestamp("2026-01-16", tz="UTC")))
    _no_external_resources(page)
    for text in ("No engagement snapshot yet", "No velocity snapshot yet", "No skill gaps recorded yet",
                 "No points this week yet", "No peer group is large enough", "No asset check has run yet"):
        assert text in page
    assert "Day 2026-01-15" in page


def test_renders_charts_and_escapes_text():
    data = ReportData(
        "2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"),
        engagement=pd.DataFrame({"organization": ["Acme", "Acme", "<b>Beta</b>"], "overall_score": [10, 90, 50]}),
        velocity=pd.DataFrame({"organization": ["Acme", "Acme"], "status": ["ahead", "at_risk"], "learners": [3, 1]}),
        skill_gaps=pd.DataFrame({"skill": ["SQL"], "learners": [4], "critical": [1], "avg_gap": [22.5]}),
        leaderboard=pd.DataFrame({"rank": [1], "display_name": ["<script>x</script>"], "organization": ["Acme"],
                                  "points": [120]}),
        peers=pd.DataFrame({"organization": ["Acme"], "competency_level": ["beginner"], "avg_velocity": [2.5],
                            "median_velocity": [2.0], "avg_score": [70.0], "sample_size": [12]}),
        table_rows=pd.DataFrame({"table": ["users"], "rows": [12]}),
        quarantine=pd.DataFrame({"resource": ["users"], "quarantined": [1], "loaded": [99]}),
        checks=pd.DataFrame({"asset": ["users"], "check": ["quarantine_share"], "status": ["FAILED"], "when": ["x"]}),
    )
    page = render_report(data)
    _no_external_resources(page)
    assert page.count("Plotly.newPlot") == 4  # engagement, velocity, skill gaps, peers
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate element ids (a chart would draw into the wrong element)"
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "Overall quarantine share: <strong>1.00%</strong>" in page
    assert "FAILED" in page and "SQL" in page


def _plant_learners(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into organizations (id, name) values ('org-1', 'Org One')"))
        conn.execute(sa.text(
            "insert into users (id, email, full_name, organization_id) values "
            "('u-hidden', 'h@example.org', :hidden, 'org-1'), ('u-anon', 'a@example.org', :anon, 'org-1'), "
            "('u-public', 'p@example.org', :public, 'org-1')"),
            {"hidden": HIDDEN_NAME, "anon": ANONYMOUS_NAME, "public": PUBLIC_NAME})
        conn.execute(sa.text(
            "insert into user_preferences (user_id, leaderboard_privacy) values "
            "('u-hidden', 'hidden'), ('u-anon', 'anonymous'), ('u-public', 'public')"))
        conn.execute(sa.text(
            "insert into point_transactions (user_id, points, activity_type, source_id, \"timestamp\") values "
            "('u-hidden', 500, 'content_completed', 'c1', now()), ('u-anon', 300, 'content_completed', 'c2', now()), "
            "('u-public', 100, 'content_completed', 'c3', now())"))
        conn.execute(sa.text("refresh materialized view leaderboard_weekly"))
        conn.execute(sa.text(
            "insert into engagement_analytics (user_id, overall_score, trend, sessions_per_week, avg_session_duration, "
            "last_active, engagement_by_type, weekly_trend, calculated_at, expires_at) "
            "select id, s, 'stable', 2, 600, now(), '{}', '[]', date_trunc('day', now()) - interval '1 hour', now() + interval '1 day' "
            "from (values ('u-hidden', 80), ('u-anon', 40), ('u-public', 60)) v(id, s)"))


def _materialize_report(warehouse_url, instance, reports_dir, monkeypatch):
    from analytics_pipeline.assets.report import analyst_report
    from analytics_pipeline.resources import WarehouseResource

    monkeypatch.setenv("REPORTS_DIR", str(reports_dir))
    partition = (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()  # T = today 00:00
    result = dg.materialize([analyst_report], partition_key=partition, instance=instance,
                            resources={"warehouse": WarehouseResource(database_url=warehouse_url)})
    assert result.success
    materialization = result.asset_materializations_for_node("analyst_report")[0]
    path = materialization.metadata["path"].value
    assert path == str(reports_dir / f"analyst_report_{partition}.html")
    assert materialization.metadata["url"].value.startswith("file://")
    assert (reports_dir / "latest.html").read_bytes() == (reports_dir / f"analyst_report_{partition}.html").read_bytes()
    return (reports_dir / f"analyst_report_{partition}.html").read_text(encoding="utf-8"), materialization


@pytest.mark.slow
def test_report_renders_on_an_empty_warehouse(clean_warehouse, warehouse_url, dagster_instance, tmp_path, monkeypatch):
    page, materialization = _materialize_report(warehouse_url, dagster_instance, tmp_path / "reports", monkeypatch)
    _no_external_resources(page)
    assert "No engagement snapshot yet" in page and "No points this week yet" in page
    assert materialization.metadata["leaderboard_rows"].value == 0


@pytest.mark.slow
def test_report_keeps_hidden_and_anonymous_learners_private(clean_warehouse, warehouse_url, dagster_instance,
                                                             tmp_path, monkeypatch):
    _plant_learners(clean_warehouse)
    page, materialization = _materialize_report(warehouse_url, dagster_instance, tmp_path / "reports", monkeypatch)
    assert HIDDEN_NAME not in page and "Hiddenhoff" not in page and "h@example.org" not in page
    assert ANONYMOUS_NAME not in page and "Anonymark" not in page and "a@example.org" not in page
    assert "u-hidden" not in page and "u-anon" not in page
    assert PUBLIC_NAME in page and "Anonymous learner" in page
    assert materialization.metadata["leaderboard_rows"].value == 2  # the hidden learner is not ranked
    # the public learner ranks 2nd behind the anonymous one, the hidden learner's 500 points don't count
    assert re.search(r"<td>1</td>\s*<td>Anonymous learner</td>", page)
    assert re.search(rf"<td>2</td>\s*<td>{PUBLIC_NAME}</td>", page)
    assert "Org One" in page  # engagement per organisation is drawn
