"""The analyst report: pure rendering (empty and filled frames) and the asset end to end on a
real warehouse — privacy of hidden and anonymous learners, empty first run, self-contained HTML."""
from __future__ import annotations

import json
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
                 "No points this week yet", "No peer group is large enough", "No asset check has run yet",
                 "No drop-off prediction for this day"):
        assert text in page
    assert "Day 2026-01-15" in page


def test_renders_charts_and_escapes_text():
    data = ReportData(
        "2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"),
        engagement=pd.DataFrame({"organization": ["Acme", "Acme", "<b>Beta</b>"], "overall_score": [10, 90, 50],
                                 "active": [True, True, True]}),
        velocity=pd.DataFrame({"organization": ["Acme", "Acme"], "status": ["ahead", "at_risk"], "learners": [3, 1]}),
        skill_gaps=pd.DataFrame({"skill": ["SQL"], "learners": [4], "critical": [1], "avg_gap": [22.5]}),
        leaderboard=pd.DataFrame({"rank": [1], "display_name": ["<script>x</script>"], "organization": ["Acme"],
                                  "points": [120]}),
        peers=pd.DataFrame({"organization": ["Acme"], "competency_level": ["beginner"], "avg_velocity": [2.5],
                            "median_velocity": [2.0], "avg_score": [70.0], "sample_size": [12]}),
        table_rows=pd.DataFrame({"table": ["users"], "rows": [12]}),
        quarantine=pd.DataFrame({"resource": ["users"], "quarantined": [1], "loaded": [99]}),
        checks=pd.DataFrame({"asset": ["users"], "check": ["quarantine_share"], "status": ["FAILED"], "when": ["x"]}),
        k_anonymity=1,
    )
    page = render_report(data)
    _no_external_resources(page)
    assert page.count("Plotly.newPlot") == 4  # engagement, velocity, skill gaps, peers
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate element ids (a chart would draw into the wrong element)"
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<b>Beta</b>" not in page and "&lt;b&gt;Beta&lt;/b&gt;" in page
    assert "Overall quarantine share (every extraction so far): <strong>1.00%</strong>" in page
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
            "select id, s, 'stable', 2, 600, now(), '{}', '[]', date_trunc('day', now(), 'UTC') - interval '1 hour', now() + interval '1 day' "
            "from (values ('u-hidden', 80), ('u-anon', 40), ('u-public', 60)) v(id, s)"))


def _run_report(warehouse_url, instance, reports_dir, monkeypatch, partition: str):
    from analytics_pipeline.assets.report import analyst_report
    from analytics_pipeline.resources import WarehouseResource

    monkeypatch.setenv("REPORTS_DIR", str(reports_dir))
    result = dg.materialize([analyst_report], partition_key=partition, instance=instance,
                            resources={"warehouse": WarehouseResource(database_url=warehouse_url)})
    assert result.success
    return result.asset_materializations_for_node("analyst_report")[0]


def _materialize_report(warehouse_url, instance, reports_dir, monkeypatch):
    partition = (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()  # T = today 00:00
    materialization = _run_report(warehouse_url, instance, reports_dir, monkeypatch, partition)
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


def _cells(page: str, section: str) -> str:
    """The HTML of one section of the report."""
    match = re.search(rf'<section id="{section}">(.*?)</section>', page, re.S)
    assert match, f"no section {section}"
    return match.group(1)


def _row(html_text: str, first_cell: str) -> list[str]:
    match = re.search(rf"<tr>\s*<td>{re.escape(first_cell)}</td>(.*?)</tr>", html_text, re.S)
    assert match, f"no row {first_cell!r}"
    return [first_cell, *re.findall(r"<td>(.*?)</td>", match.group(1), re.S)]


def test_no_activity_is_shown_as_such_never_as_zero():
    engagement = pd.DataFrame({
        "organization": ["Busy"] * 10 + ["Quiet"] * 10,
        "overall_score": [50, 60, 70, 80] + [None] * 6 + [None] * 10,
        "active": [True] * 4 + [False] * 6 + [False] * 10,
    })
    page = render_report(ReportData("2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"), engagement=engagement,
                                    k_anonymity=10))
    section = _cells(page, "engagement")
    assert _row(section, "Busy") == ["Busy", "10", "6", "60.0%", "65.00", "65.00"]  # mean/median of the 4 active
    assert _row(section, "Quiet") == ["Quiet", "10", "10", "100.0%", "no activity", "no activity"]
    assert "0.00" not in section


def test_one_k_rule_for_every_group():
    big, small = ["Big"] * 12, ["Tiny A"] * 3 + ["Tiny B"] * 4  # 7 learners in the pool: under k=10
    engagement = pd.DataFrame({"organization": big + small, "overall_score": [60] * 19, "active": [True] * 19})
    velocity = pd.DataFrame({"organization": ["Big", "Big", "Tiny A", "Tiny B"], "status": ["ahead", "no_progress", "ahead", "behind"],
                             "learners": [6, 6, 3, 4]})
    drop_off = pd.DataFrame({"organization": big + small, "learner": [f"L{i}" for i in range(19)],
                             "probability": [0.9] * 19, "risk_level": ["high"] * 19, "confidence_score": [80.0] * 19,
                             "method": ["model"] * 19, "top_reasons": ['["days_since_last_activity: raises risk"]'] * 19})
    skills = pd.DataFrame({"skill": ["SQL", "Rare skill"], "learners": [12, 3], "critical": [2, 1], "avg_gap": [30.0, 50.0]})
    data = ReportData("2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"), engagement=engagement, velocity=velocity,
                      drop_off=drop_off, skill_gaps=skills, k_anonymity=10)
    page = render_report(data)
    for section in ("engagement", "velocity", "skill-gaps"):
        assert "Tiny A" not in _cells(page, section) and "Tiny B" not in _cells(page, section)
    risk_table = _cells(page, "at-risk").split("<h3>")[0]
    assert "Tiny A" not in risk_table and "Big" in risk_table
    assert "Rare skill" not in page and "SQL" in page
    assert "(7 learners here)" in _cells(page, "engagement")
    # a pool of k or more is shown as one group
    engagement_pooled = pd.concat([engagement, pd.DataFrame({"organization": ["Tiny C"] * 5, "overall_score": [40] * 5,
                                                             "active": [True] * 5})])
    pooled = render_report(ReportData("2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"), engagement=engagement_pooled))
    assert _row(_cells(pooled, "engagement"), "Other organisations")[1] == "12"


def test_at_risk_list_comes_from_the_drop_off_predictions():
    drop_off = pd.DataFrame({
        "organization": ["Acme"] * 12,
        "learner": ["Ann", "Bob", "Cy", "Di"] + [f"Low {i}" for i in range(6)] + ["Gated", "Mid"],
        "probability": [0.91, 0.72, 0.65, 0.61] + [0.05] * 6 + [None, 0.4],
        "risk_level": ["high"] * 4 + ["low"] * 6 + [None, "medium"],
        "confidence_score": [76.5] * 12,
        "method": ["model"] * 12,
        "top_reasons": ['["days_since_last_activity: raises risk", "active_days_14d: lowers risk"]'] * 12,
    })
    page = render_report(ReportData("2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"), drop_off=drop_off, k_anonymity=10))
    section = _cells(page, "at-risk")
    assert "4 of 11 learners with a drop-off prediction are at high risk (36.4%); 1 not scored" in section
    assert _row(section, "Acme") == ["Acme", "11", "4", "36.4%"]
    listed = re.findall(r"<tr>\s*<td>(Ann|Bob|Cy|Di|Mid|Gated|Low \d)</td>", section)
    assert listed == ["Ann", "Bob", "Cy", "Di"]  # highest probability first, only the high-risk ones
    assert _row(section, "Ann") == ["Ann", "Acme", "91%", "76.50",
                                    "days_since_last_activity: raises risk; active_days_14d: lowers risk"]


def test_velocity_tells_no_progress_apart_and_shows_shares_and_separators():
    velocity = pd.DataFrame({"organization": ["Acme", "Acme", "Acme"], "status": ["behind", "at_risk", "no_progress"],
                             "learners": [1500, 500, 2000]})
    rows = pd.DataFrame({"table": ["learning_events", "engagement_analytics"], "rows": [1234567, 4000],
                         "scope": ["all", "day"]})
    page = render_report(ReportData("2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"), velocity=velocity,
                                    table_rows=rows, k_anonymity=10))
    assert _row(_cells(page, "velocity"), "Acme") == ["Acme", "4,000", "1,500 (37.5%)", "500 (12.5%)", "2,000 (50.0%)"]
    health = _cells(page, "health")
    assert _row(health, "learning_events") == ["learning_events", "1,234,567", "all rows"]
    assert _row(health, "engagement_analytics") == ["engagement_analytics", "4,000", "this day's snapshot"]
    assert "Rows per table on 2026-01-15" in health


def _plant_predictions(engine, count: int = 12) -> None:
    """``count`` learners of one organisation with stored drop-off predictions at T = today 00:00:
    learner i has probability (i + 1) / count; the last one's gates left it without a probability."""
    with engine.begin() as conn:
        conn.execute(sa.text("insert into organizations (id, name) values ('org-r', 'Riskfield')"))
        conn.execute(sa.text(
            "insert into users (id, email, full_name, organization_id) "
            "select 'r' || i, 'r' || i || '@example.org', 'Learner ' || i, 'org-r' from generate_series(1, :n) i"),
            {"n": count})
        conn.execute(sa.text(
            "insert into predictive_analytics_cache (user_id, analytics_type, data, confidence_score, calculated_at, expires_at) "
            "select 'r' || i, 'drop_off_risk', "
            "  case when i = :n then jsonb_build_object('probability', null, 'risk_level', null, 'top_reasons', '[]'::jsonb) "
            "  else jsonb_build_object('probability', i::float / :n, "
            "    'risk_level', case when i::float / :n >= 0.6 then 'high' when i::float / :n >= 0.3 then 'medium' else 'low' end, "
            "    'top_reasons', jsonb_build_array('days_since_last_activity: raises risk'), 'method', 'model') end, "
            "  81.25, date_trunc('day', now(), 'UTC'), date_trunc('day', now(), 'UTC') + interval '48 hours' "
            "from generate_series(1, :n) i"), {"n": count})


@pytest.mark.slow
def test_report_lists_the_learners_the_predictions_put_at_high_risk(clean_warehouse, warehouse_url, dagster_instance,
                                                                    tmp_path, monkeypatch):
    _plant_predictions(clean_warehouse)
    page, materialization = _materialize_report(warehouse_url, dagster_instance, tmp_path / "reports", monkeypatch)
    section = _cells(page, "at-risk")
    # probabilities 1/12 .. 11/12 scored; >= 0.6 is high: learners 8..11; learner 12 was gated
    assert "4 of 11 learners with a drop-off prediction are at high risk (36.4%); 1 not scored" in section
    listed = re.findall(r"<tr>\s*<td>(Learner \d+)</td>", section)
    assert listed == ["Learner 11", "Learner 10", "Learner 9", "Learner 8"]
    assert _row(section, "Learner 11")[2:] == ["92%", "81.25", "days_since_last_activity: raises risk"]
    assert materialization.metadata["learners_at_high_risk"].value == 4
    summary = materialization.metadata["summary"].value
    assert "| Learners at high risk of dropping off | 4 of 11 scored (36.4%) |" in summary


@pytest.mark.slow
def test_a_backfill_of_an_older_day_leaves_latest_on_the_newest(clean_warehouse, warehouse_url, dagster_instance,
                                                                tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    newest = (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=1)).date().isoformat()
    older = (pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=6)).date().isoformat()
    first = _run_report(warehouse_url, dagster_instance, reports, monkeypatch, newest)
    assert first.metadata["is_newest_partition"].value is True
    latest_before = (reports / "latest.html").read_bytes()
    backfill = _run_report(warehouse_url, dagster_instance, reports, monkeypatch, older)
    assert (reports / f"analyst_report_{older}.html").exists()
    assert (reports / "latest.html").read_bytes() == latest_before == (reports / f"analyst_report_{newest}.html").read_bytes()
    assert backfill.metadata["is_newest_partition"].value is False
    assert backfill.metadata["newest_partition"].value == newest
    assert f"the newest day is {newest}" in backfill.metadata["summary"].value
    rerun = _run_report(warehouse_url, dagster_instance, reports, monkeypatch, newest)  # the newest day again: latest
    assert rerun.metadata["is_newest_partition"].value is True


def _charts(page: str) -> dict[str, list]:
    """Each chart's ``Plotly.newPlot(id, data, layout, config)`` arguments, parsed from the page."""
    decoder, charts = json.JSONDecoder(), {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', page):
        position, arguments = match.end(), []
        for _ in range(3):
            value, position = decoder.raw_decode(page, position)
            arguments.append(value)
            position = re.compile(r"\s*,?\s*").match(page, position).end()
        charts[match.group(1)] = arguments
    return charts


def test_charts_are_the_figures_plotly_validation_gives():
    """The charts are written without plotly's per-property validation (dicts, not go.Figure):
    validating each one through go.Figure must give back exactly the same figure — the same trace
    properties, titles in their {"text": ...} form, no empty marker, the full plotly_white template."""
    import plotly.graph_objects as go
    import plotly.io as pio

    engagement = pd.DataFrame({"organization": ["Acme"] * 12 + ["Beta"] * 11,
                               "overall_score": [float(10 + i) for i in range(12)] + [None] + [55.0] * 10,
                               "active": [True] * 12 + [False] + [True] * 10})
    data = ReportData(
        "2026-01-15", pd.Timestamp("2026-01-16", tz="UTC"), engagement=engagement,
        velocity=pd.DataFrame({"organization": ["Acme", "Acme", "Acme"], "status": ["ahead", "no_progress", "paused"],
                               "learners": [3, 1, 2]}),
        skill_gaps=pd.DataFrame({"skill": ["SQL", "Python"], "learners": [4, 3], "critical": [1, 0],
                                 "avg_gap": [22.5, 10.0]}),
        peers=pd.DataFrame({"organization": ["Acme", "Acme"], "competency_level": ["beginner", "expert"],
                            "avg_velocity": [2.5, 3.0], "median_velocity": [2.0, 3.0], "avg_score": [70.0, 80.0],
                            "sample_size": [12, 11]}),
        k_anonymity=1)
    charts = _charts(render_report(data))
    assert list(charts) == ["chart-engagement", "chart-velocity", "chart-skill-gaps", "chart-peers"]
    for chart, (traces, layout, config) in charts.items():
        validated = json.loads(pio.to_json(go.Figure(data=traces, layout=layout)))
        assert traces == validated["data"], chart
        assert layout == validated["layout"], chart
        assert layout["template"] == json.loads(pio.to_json(go.Figure(layout={"template": "plotly_white"})))["layout"]["template"]
        assert layout["height"] == 360 and layout["margin"] == {"l": 40, "r": 20, "t": 40, "b": 40}
        assert config == {"displaylogo": False, "responsive": True}
    boxes = charts["chart-engagement"][0]
    assert [(b["type"], b["name"], b["y"], b["boxmean"]) for b in boxes] == [
        ("box", "Acme", [float(10 + i) for i in range(12)], True), ("box", "Beta", [55.0] * 10, True)]
    assert charts["chart-engagement"][1]["title"] == {"text": "Engagement score (0-100) of active learners per organisation"}
    bars = {b["name"]: b for b in charts["chart-velocity"][0]}
    assert bars["ahead"]["marker"] == {"color": "#2e7d32"} and "marker" not in bars["paused"]
    assert bars["ahead"]["y"] == [50.0] and bars["ahead"]["customdata"] == [3]
    assert charts["chart-skill-gaps"][1]["xaxis"] == {"title": {"text": "learners"}}


@pytest.mark.slow
def test_report_reads_are_the_rows_of_its_queries(clean_warehouse, warehouse_url):
    """collect_report_data builds its frames from the driver's tuples in one transaction with its
    own settings: the same frames as the rows SQLAlchemy returns; every table not a snapshot
    counted in full, a snapshot table's day counted."""
    from analytics_pipeline.reporting.store import collect_report_data
    from analytics_pipeline.warehouse import sql_text
    from analytics_pipeline.warehouse.table_counts import row_counts

    _plant_learners(clean_warehouse)
    _plant_predictions(clean_warehouse)
    as_of = pd.Timestamp.now(tz="UTC").normalize()
    at = as_of.to_pydatetime()
    with clean_warehouse.connect() as conn:
        work_mem = conn.execute(sa.text("show work_mem")).scalar_one()
        conn.rollback()
        data = collect_report_data(conn, "2026-01-15", as_of, 10)
        assert not conn.in_transaction()
        assert conn.execute(sa.text("show work_mem")).scalar_one() == work_mem != "64MB"  # the settings ended

        def rows(name, **params):
            result = conn.execute(sa.text(sql_text(f"reporting/{name}.sql")), params)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

        expected = {"engagement": rows("engagement_by_organization", as_of=at),
                    "velocity": rows("velocity_status_by_organization", as_of=at),
                    "skill_gaps": rows("common_skill_gaps", as_of=at, critical_gap=40.0, top=15),
                    "leaderboard": rows("leaderboard_top", top=10), "peers": rows("peer_comparisons"),
                    "drop_off": rows("drop_off_risk", as_of=at), "quarantine": rows("quarantine_share")}
        totals = row_counts(conn)
        day = {t: conn.execute(sa.text(f'select count(*) from "{t}" where calculated_at = :t'), {"t": at}).scalar_one()
               for t in ("engagement_analytics", "predictive_analytics_cache")}
    assert len(expected["engagement"]) == 3 and len(expected["drop_off"]) == 12 and len(expected["leaderboard"]) == 2
    for field_name, frame in expected.items():
        got = getattr(data, field_name)
        columns = list(frame.columns)
        pd.testing.assert_frame_equal(got.sort_values(columns).reset_index(drop=True),
                                      frame.sort_values(columns).reset_index(drop=True), obj=field_name)
    counted = data.table_rows.set_index("table")
    assert counted.loc["learning_events", "scope"] == "all" and counted.loc["users", "rows"] == totals["users"] == 15
    for table, scope in counted["scope"].items():
        assert counted.loc[table, "rows"] == (day.get(table, counted.loc[table, "rows"]) if scope == "day" else totals[table])
    assert counted.loc["predictive_analytics_cache", "rows"] == day["predictive_analytics_cache"] == 12


@pytest.mark.slow
def test_table_counts_see_the_reports_snapshot(clean_warehouse, warehouse_url):
    """The counts run on a second connection that imports the report's snapshot: a row committed
    after the snapshot was taken is not counted, exactly as if counted on the report's connection."""
    from analytics_pipeline.reporting.store import SNAPSHOT_TRANSACTION, day_table_rows_in_snapshot

    _plant_learners(clean_warehouse)
    as_of = pd.Timestamp.now(tz="UTC").normalize()
    with clean_warehouse.connect() as conn, conn.begin():
        conn.execute(sa.text(SNAPSHOT_TRANSACTION))
        snapshot = conn.execute(sa.text("select pg_export_snapshot()")).scalar_one()
        with clean_warehouse.begin() as writer:  # committed after the snapshot
            writer.execute(sa.text("insert into organizations (id, name) values ('org-late', 'Late')"))
        in_snapshot = day_table_rows_in_snapshot(clean_warehouse, snapshot, as_of).set_index("table")["rows"]
    with clean_warehouse.connect() as conn:
        now = conn.execute(sa.text("select count(*) from organizations")).scalar_one()
    assert in_snapshot["organizations"] == now - 1 == 1 and in_snapshot["users"] == 3
    with pytest.raises(ValueError):
        day_table_rows_in_snapshot(clean_warehouse, "x'; drop table users; --", as_of)
