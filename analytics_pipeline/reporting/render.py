"""The analyst report as one self-contained HTML page.

Input: :class:`ReportData`, a bundle of small DataFrames that the asset reads from the
warehouse (already aggregated, already privacy-filtered: the leaderboard frame holds display
names only, hidden learners left out and anonymous ones as "Anonymous learner"; peer groups are
the k-suppressed published ones). Every frame may be empty (first run): each section then says
that there is nothing yet instead of drawing a chart. All text is HTML-escaped.

plotly.js is inlined once in ``<head>`` (no CDN, works offline); each figure is a ``<div>``
drawn by ``Plotly.newPlot`` with ``include_plotlyjs=False``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

VELOCITY_ORDER = ["ahead", "on_track", "behind", "at_risk"]
VELOCITY_COLOURS = {"ahead": "#2e7d32", "on_track": "#1976d2", "behind": "#f9a825", "at_risk": "#c62828"}


def _frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class ReportData:
    """What the report shows. Column names are the contract with sql/queries/reporting/."""

    partition: str
    generated_at: pd.Timestamp
    # organization, overall_score (one row per learner)
    engagement: pd.DataFrame = field(default_factory=lambda: _frame(["organization", "overall_score"]))
    # organization, status, learners
    velocity: pd.DataFrame = field(default_factory=lambda: _frame(["organization", "status", "learners"]))
    # skill, learners, critical, avg_gap
    skill_gaps: pd.DataFrame = field(default_factory=lambda: _frame(["skill", "learners", "critical", "avg_gap"]))
    # rank, display_name, organization, points
    leaderboard: pd.DataFrame = field(default_factory=lambda: _frame(["rank", "display_name", "organization", "points"]))
    # organization, competency_level, avg_velocity, median_velocity, avg_score, sample_size
    peers: pd.DataFrame = field(default_factory=lambda: _frame(
        ["organization", "competency_level", "avg_velocity", "median_velocity", "avg_score", "sample_size"]))
    # table, rows (None: the table does not exist)
    table_rows: pd.DataFrame = field(default_factory=lambda: _frame(["table", "rows"]))
    # resource, quarantined, loaded
    quarantine: pd.DataFrame = field(default_factory=lambda: _frame(["resource", "quarantined", "loaded"]))
    # asset, check, status, severity, when
    checks: pd.DataFrame = field(default_factory=lambda: _frame(["asset", "check", "status", "when"]))
    k_anonymity: int = 10


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _empty(message: str) -> str:
    return f'<p class="empty">{_esc(message)}</p>'


def _figure(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(margin=dict(l=40, r=20, t=40, b=40), height=360, template="plotly_white")
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{div_id}", config={"displaylogo": False})


def _table(frame: pd.DataFrame, labels: dict[str, str]) -> str:
    shown = frame[list(labels)].rename(columns=labels)
    return shown.to_html(index=False, escape=True, na_rep="–", border=0, classes="data", float_format=lambda v: f"{v:,.2f}")


def engagement_section(data: ReportData) -> str:
    frame = data.engagement.dropna(subset=["overall_score"])
    if frame.empty:
        return _empty("No engagement snapshot yet.")
    fig = go.Figure()
    for org, scores in frame.groupby("organization", sort=True)["overall_score"]:
        fig.add_trace(go.Box(y=scores.astype(float), name=str(org), boxmean=True))
    fig.update_layout(title="Engagement score (0-100) per organisation", yaxis_title="overall score", showlegend=False)
    summary = (frame.assign(overall_score=frame["overall_score"].astype(float))
               .groupby("organization", sort=True)["overall_score"]
               .agg(learners="count", mean="mean", median="median").reset_index())
    return _figure(fig, "engagement") + _table(summary, {"organization": "Organisation", "learners": "Learners",
                                                          "mean": "Mean score", "median": "Median score"})


def velocity_section(data: ReportData) -> str:
    frame = data.velocity
    if frame.empty:
        return _empty("No velocity snapshot yet.")
    pivot = frame.pivot_table(index="organization", columns="status", values="learners", aggfunc="sum", fill_value=0)
    statuses = [s for s in VELOCITY_ORDER if s in pivot.columns] + sorted(set(pivot.columns) - set(VELOCITY_ORDER))
    fig = go.Figure()
    for status in statuses:
        fig.add_trace(go.Bar(x=[str(i) for i in pivot.index], y=pivot[status].tolist(), name=str(status),
                             marker_color=VELOCITY_COLOURS.get(status)))
    fig.update_layout(barmode="stack", title="Learners per velocity status and organisation", yaxis_title="learners")
    return _figure(fig, "velocity")


def skill_gap_section(data: ReportData) -> str:
    frame = data.skill_gaps
    if frame.empty:
        return _empty("No skill gaps recorded yet.")
    ordered = frame.iloc[::-1]
    fig = go.Figure(go.Bar(x=ordered["learners"].tolist(), y=[str(s) for s in ordered["skill"]], orientation="h",
                           name="learners with a gap"))
    fig.add_trace(go.Bar(x=ordered["critical"].tolist(), y=[str(s) for s in ordered["skill"]], orientation="h",
                         name="critical gaps"))
    fig.update_layout(title="Skills most often missing", xaxis_title="learners", barmode="group")
    return _figure(fig, "skill-gaps") + _table(frame, {"skill": "Skill", "learners": "Learners with a gap",
                                                       "critical": "Critical", "avg_gap": "Mean gap"})


def leaderboard_section(data: ReportData) -> str:
    frame = data.leaderboard.head(10)
    if frame.empty:
        return _empty("No points this week yet.")
    note = ('<p class="note">Learners who hide themselves from leaderboards are left out; anonymous learners '
            'appear as “Anonymous learner”.</p>')
    return note + _table(frame, {"rank": "Rank", "display_name": "Learner", "organization": "Organisation",
                                 "points": "Points this week"})


def peer_section(data: ReportData) -> str:
    frame = data.peers
    note = (f'<p class="note">Only peer groups of at least {int(data.k_anonymity)} learners are published '
            '(k-anonymity).</p>')
    if frame.empty:
        return note + _empty("No peer group is large enough to publish yet.")
    fig = go.Figure()
    for level, rows in frame.groupby("competency_level", sort=False):
        fig.add_trace(go.Bar(x=[str(o) for o in rows["organization"]], y=rows["avg_velocity"].astype(float).tolist(),
                             name=str(level)))
    fig.update_layout(barmode="group", title="Mean velocity per organisation and competency level",
                      yaxis_title="mean pace")
    return note + _figure(fig, "peers") + _table(frame, {
        "organization": "Organisation", "competency_level": "Level", "avg_velocity": "Mean velocity",
        "median_velocity": "Median velocity", "avg_score": "Mean score", "sample_size": "Learners"})


def health_section(data: ReportData) -> str:
    parts = ["<h3>Rows per table</h3>"]
    parts.append(_table(data.table_rows, {"table": "Table", "rows": "Rows"}) if not data.table_rows.empty
                 else _empty("No table counted."))
    parts.append("<h3>Quarantine</h3>")
    q = data.quarantine
    if q.empty:
        parts.append(_empty("Nothing extracted or quarantined yet."))
    else:
        q = q.assign(share=q["quarantined"].astype(float) / (q["loaded"].astype(float) + q["quarantined"].astype(float)).where(
            lambda s: s > 0))
        total_q, total_l = float(q["quarantined"].sum()), float(q["loaded"].sum())
        overall = total_q / (total_q + total_l) if total_q + total_l else 0.0
        parts.append(f'<p>Overall quarantine share: <strong>{overall:.2%}</strong></p>')
        parts.append(_table(q, {"resource": "Resource", "quarantined": "Quarantined", "loaded": "Loaded", "share": "Share"}))
    parts.append("<h3>Latest asset check results</h3>")
    checks = data.checks
    if checks.empty:
        parts.append(_empty("No asset check has run yet."))
    else:
        parts.append(_table(checks, {"asset": "Asset", "check": "Check", "status": "Status", "when": "When"}))
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5rem; color: #1f2933; }
h1 { margin-bottom: .2rem; } .meta { color: #52606d; margin-top: 0; }
section { border-top: 1px solid #d9e2ec; padding-top: .5rem; margin-top: 1.5rem; }
table.data { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
table.data th, table.data td { padding: .25rem .6rem; border-bottom: 1px solid #e4e7eb; text-align: left; }
.empty { color: #7b8794; font-style: italic; } .note { color: #52606d; font-size: .9rem; }
"""


def render_report(data: ReportData) -> str:
    """The whole report: one HTML document with plotly.js inlined (no network needed to view it)."""
    sections = [
        ("engagement", "Engagement scores per organisation", engagement_section(data)),
        ("velocity", "Velocity status per organisation", velocity_section(data)),
        ("skill-gaps", "Most common skill gaps", skill_gap_section(data)),
        ("leaderboard", "Weekly leaderboard — top 10", leaderboard_section(data)),
        ("peers", "Peer comparisons", peer_section(data)),
        ("health", "Pipeline health", health_section(data)),
    ]
    body = "\n".join(f'<section id="{sid}"><h2>{_esc(title)}</h2>\n{content}\n</section>' for sid, title, content in sections)
    generated = pd.Timestamp(data.generated_at).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC") \
        if pd.Timestamp(data.generated_at).tzinfo else _esc(data.generated_at)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Analyst report — {_esc(data.partition)}</title>"
        f"<style>{STYLE}</style>"
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head>\n<body>"
        f"<h1>Learning analytics — analyst report</h1>"
        f"<p class=\"meta\">Day {_esc(data.partition)} · generated {_esc(generated)}</p>\n"
        f"{body}\n</body></html>\n"
    )
