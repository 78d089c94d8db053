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
import json
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

VELOCITY_ORDER = ["ahead", "on_track", "behind", "at_risk", "no_progress"]
VELOCITY_COLOURS = {"ahead": "#2e7d32", "on_track": "#1976d2", "behind": "#f9a825", "at_risk": "#c62828",
                    "no_progress": "#9aa5b1"}
OTHER_GROUP = "Other organisations"
AT_RISK_LIST_SIZE = 25


def _frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class ReportData:
    """What the report shows. Column names are the contract with sql/queries/reporting/."""

    partition: str
    generated_at: pd.Timestamp
    # organization, overall_score, active (one row per learner; no activity: active false, score NULL)
    engagement: pd.DataFrame = field(default_factory=lambda: _frame(["organization", "overall_score", "active"]))
    # organization, status (no_progress: pace 0 or unknown), learners
    velocity: pd.DataFrame = field(default_factory=lambda: _frame(["organization", "status", "learners"]))
    # skill, learners, critical, avg_gap
    skill_gaps: pd.DataFrame = field(default_factory=lambda: _frame(["skill", "learners", "critical", "avg_gap"]))
    # rank, display_name, organization, points
    leaderboard: pd.DataFrame = field(default_factory=lambda: _frame(["rank", "display_name", "organization", "points"]))
    # organization, competency_level, avg_velocity, median_velocity, avg_score, sample_size
    peers: pd.DataFrame = field(default_factory=lambda: _frame(
        ["organization", "competency_level", "avg_velocity", "median_velocity", "avg_score", "sample_size"]))
    # organization, learner, probability, risk_level, confidence_score, method, top_reasons (JSON text);
    # one row per learner with a live drop-off prediction for the day, as stored
    drop_off: pd.DataFrame = field(default_factory=lambda: _frame(
        ["organization", "learner", "probability", "risk_level", "confidence_score", "method", "top_reasons"]))
    # table, rows, scope ("day": the reported day's snapshot; "all": every row now; rows None: no table)
    table_rows: pd.DataFrame = field(default_factory=lambda: _frame(["table", "rows", "scope"]))
    # resource, quarantined, loaded
    quarantine: pd.DataFrame = field(default_factory=lambda: _frame(["resource", "quarantined", "loaded"]))
    # asset, check, status, severity, when
    checks: pd.DataFrame = field(default_factory=lambda: _frame(["asset", "check", "status", "when"]))
    k_anonymity: int = 10


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _empty(message: str) -> str:
    return f'<p class="empty">{_esc(message)}</p>'


TEMPLATE = "plotly_white"


@lru_cache(maxsize=None)
def _template_json(name: str) -> str:
    """The layout template as plotly ships it (``plotly.io.templates[name]`` reads the same file)."""
    return pkgutil.get_data("plotly", f"package_data/templates/{name}.json").decode("utf-8")


def _figure(traces: list[dict], layout: dict, div_id: str) -> str:
    """A chart's ``<div>``: ``traces`` and ``layout`` as plotly's JSON schema spells them (``title``
    as ``{"text": ...}``, no ``yaxis_title`` shorthands, ``type`` in every trace), serialised
    without plotly's per-property validation. Building ``go.Figure`` objects validated and deep-copied
    every value (each learner's score of the engagement boxes: 2 of the report's 3.5 s at M);
    tests/ui/test_report.py checks that plotly's validation gives back the same figures."""
    figure = {"data": traces, "layout": {**layout, "margin": {"l": 40, "r": 20, "t": 40, "b": 40}, "height": 360,
                                         "template": json.loads(_template_json(TEMPLATE))}}
    return pio.to_html(figure, validate=False, full_html=False, include_plotlyjs=False, div_id=f"chart-{div_id}",
                       config={"displaylogo": False})


def _number(value) -> str:
    """Thousands separators; integers without decimals, other numbers with two."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.2f}"


def _share(part, whole) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _table(frame: pd.DataFrame, labels: dict[str, str], numeric: tuple[str, ...] = ()) -> str:
    """An HTML table of ``labels``' columns; the ``numeric`` ones formatted with thousands separators."""
    shown = frame[list(labels)].copy()
    for column in shown.columns:
        if column in numeric or pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(_number).astype(object)
    return shown.rename(columns=labels).to_html(index=False, escape=True, na_rep="–", border=0, classes="data")


def k_groups(frame: pd.DataFrame, column: str, k: int, weight: str | None = None) -> tuple[pd.DataFrame, int]:
    """The report's one k rule, for every group it shows: groups of ``column`` with fewer than ``k``
    learners (rows, or the sum of ``weight``) are pooled into "Other organisations"; the pool is
    dropped when it is itself smaller than ``k``. Returns the frame and the number of learners left out."""
    if frame.empty:
        return frame, 0
    sizes = frame.groupby(column, sort=False)[weight].sum() if weight else frame.groupby(column, sort=False).size()
    small = sizes[sizes < k].index
    if small.empty:
        return frame, 0
    pooled = frame.assign(**{column: frame[column].where(~frame[column].isin(small), OTHER_GROUP)})
    pool_size = int(sizes.loc[small].sum())
    if pool_size >= k:
        return pooled, 0
    return pooled[pooled[column] != OTHER_GROUP], pool_size


def _k_note(k: int, left_out: int) -> str:
    text = (f"Groups of fewer than {int(k)} learners are pooled into “{OTHER_GROUP}” (k-anonymity); a pool still "
            f"under {int(k)} is left out")
    return f'<p class="note">{_esc(text)}{f" ({left_out:,} learners here)" if left_out else ""}.</p>'


def engagement_section(data: ReportData) -> str:
    frame = data.engagement
    if frame.empty:
        return _empty("No engagement snapshot yet.")
    score = pd.to_numeric(frame["overall_score"], errors="coerce").astype("Float64")
    active = frame["active"].fillna(False).astype(bool) if "active" in frame else score.notna()
    frame = frame.assign(active=active & score.notna(), overall_score=score)
    frame, left_out = k_groups(frame, "organization", data.k_anonymity)
    if frame.empty:
        return _k_note(data.k_anonymity, left_out) + _empty("No organisation is large enough to show.")
    active = frame[frame["active"]]
    parts = [_k_note(data.k_anonymity, left_out)]
    if not active.empty:
        traces = [{"type": "box", "y": scores.astype(float).tolist(), "name": str(org), "boxmean": True}
                  for org, scores in active.groupby("organization", sort=True)["overall_score"]]
        parts.append(_figure(traces, {"title": {"text": "Engagement score (0-100) of active learners per organisation"},
                                      "yaxis": {"title": {"text": "overall score"}}, "showlegend": False},
                             "engagement"))
    grouped = frame.groupby("organization", sort=True)
    summary = pd.DataFrame({
        "learners": grouped.size(),
        "active": grouped["active"].sum().astype(int),
        "mean": active.groupby("organization")["overall_score"].mean(),
        "median": active.groupby("organization")["overall_score"].median(),
    }).reset_index()
    summary["no_activity"] = summary["learners"] - summary["active"]
    summary["no_activity_share"] = [_share(n, t) for n, t in zip(summary["no_activity"], summary["learners"])]
    summary[["mean", "median"]] = summary[["mean", "median"]].astype(object).where(summary["active"] > 0, "no activity")
    parts.append('<p class="note">Scores are over active learners only; a learner without a session in the '
                 'window counts as “no activity”, never as a score of 0.</p>')
    parts.append(_table(summary, {"organization": "Organisation", "learners": "Learners",
                                  "no_activity": "No activity", "no_activity_share": "Share without activity",
                                  "mean": "Mean score", "median": "Median score"}, numeric=("mean", "median")))
    return "\n".join(parts)


def velocity_section(data: ReportData) -> str:
    frame = data.velocity
    if frame.empty:
        return _empty("No velocity snapshot yet.")
    frame = frame.assign(learners=frame["learners"].astype(int))
    frame, left_out = k_groups(frame, "organization", data.k_anonymity, weight="learners")
    note = _k_note(data.k_anonymity, left_out)
    if frame.empty:
        return note + _empty("No organisation is large enough to show.")
    pivot = frame.pivot_table(index="organization", columns="status", values="learners", aggfunc="sum", fill_value=0)
    statuses = [s for s in VELOCITY_ORDER if s in pivot.columns] + sorted(set(pivot.columns) - set(VELOCITY_ORDER))
    shares = pivot.div(pivot.sum(axis=1), axis=0)
    traces = []
    for status in statuses:
        colour = VELOCITY_COLOURS.get(status)
        traces.append({"type": "bar", "x": [str(i) for i in pivot.index], "y": (shares[status] * 100).round(1).tolist(),
                       "name": str(status), **({"marker": {"color": colour}} if colour else {}),
                       "customdata": pivot[status].tolist(), "hovertemplate": "%{y}% (%{customdata} learners)"})
    layout = {"barmode": "stack", "title": {"text": "Share of learners per velocity status and organisation"},
              "yaxis": {"title": {"text": "% of the organisation's learners"}}}
    table = pd.DataFrame({"organization": pivot.index, "learners": pivot.sum(axis=1).to_numpy()})
    labels = {"organization": "Organisation", "learners": "Learners"}
    for status in statuses:
        table[status] = [f"{n:,} ({_share(n, t)})" for n, t in zip(pivot[status], table["learners"])]
        labels[status] = status.replace("_", " ")
    legend = ('<p class="note">“no progress”: no progress at all in the window (pace 0), told apart from learners '
              'who progress slowly (“behind”, “at risk”).</p>')
    return note + legend + _figure(traces, layout, "velocity") + _table(table, labels)


def _reasons(text) -> str:
    try:
        reasons = json.loads(text) if isinstance(text, str) else list(text or [])
    except (TypeError, ValueError):
        return str(text)
    return "; ".join(str(r) for r in reasons) or "–"


def at_risk_section(data: ReportData) -> str:
    frame = data.drop_off
    if frame.empty:
        return _empty("No drop-off prediction for this day.")
    frame = frame.assign(probability=pd.to_numeric(frame["probability"], errors="coerce"),
                         confidence_score=pd.to_numeric(frame["confidence_score"], errors="coerce"))
    scored = frame[frame["probability"].notna() & frame["risk_level"].notna()]
    high = scored[scored["risk_level"] == "high"].sort_values(["probability", "learner"], ascending=[False, True])
    method = ", ".join(sorted(str(m) for m in scored["method"].dropna().unique())) or "–"
    confidence = scored["confidence_score"].dropna()
    parts = [f'<p>{len(high):,} of {len(scored):,} learners with a drop-off prediction are at high risk '
             f'({_share(len(high), len(scored))}); {len(frame) - len(scored):,} not scored (the predictions\' gates '
             f'left them without a probability). Method: {_esc(method)}; confidence '
             f'{_number(float(confidence.min())) if not confidence.empty else "–"}'
             f'{"" if confidence.empty or confidence.min() == confidence.max() else "–" + _number(float(confidence.max()))}'
             ' of 100.</p>']
    by_org = scored.assign(high=scored["risk_level"] == "high").groupby("organization", sort=True).agg(
        scored=("high", "size"), high=("high", "sum")).reset_index()
    by_org, left_out = k_groups(by_org, "organization", data.k_anonymity, weight="scored")
    if not by_org.empty:
        by_org = by_org.groupby("organization", sort=True)[["scored", "high"]].sum().reset_index()
        by_org["share"] = [_share(h, n) for h, n in zip(by_org["high"], by_org["scored"])]
        parts.append(_k_note(data.k_anonymity, left_out))
        parts.append(_table(by_org, {"organization": "Organisation", "scored": "Learners scored",
                                     "high": "High risk", "share": "Share at high risk"}))
    if high.empty:
        parts.append(_empty("No learner is at high risk of dropping off."))
        return "\n".join(parts)
    shown = high.head(AT_RISK_LIST_SIZE).assign(
        probability=lambda f: [f"{p:.0%}" for p in f["probability"]],
        reasons=lambda f: [_reasons(t) for t in f["top_reasons"]])
    parts.append(f"<h3>Learners at high risk (top {min(len(high), AT_RISK_LIST_SIZE):,} of {len(high):,})</h3>")
    parts.append(_table(shown, {"learner": "Learner", "organization": "Organisation", "probability": "Drop-off probability",
                                "confidence_score": "Confidence", "reasons": "Main reasons"}))
    return "\n".join(parts)


def skill_gap_section(data: ReportData) -> str:
    frame = data.skill_gaps
    if frame.empty:
        return _empty("No skill gaps recorded yet.")
    frame = frame[frame["learners"].astype(int) >= data.k_anonymity]
    if frame.empty:
        return _empty(f"No skill gap is shared by {int(data.k_anonymity)} learners or more.")
    ordered = frame.iloc[::-1]
    skills = [str(s) for s in ordered["skill"]]
    traces = [{"type": "bar", "x": ordered[column].tolist(), "y": skills, "orientation": "h", "name": name}
              for column, name in (("learners", "learners with a gap"), ("critical", "critical gaps"))]
    layout = {"title": {"text": "Skills most often missing"}, "xaxis": {"title": {"text": "learners"}}, "barmode": "group"}
    return _figure(traces, layout, "skill-gaps") + _table(frame, {"skill": "Skill", "learners": "Learners with a gap",
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
    traces = [{"type": "bar", "x": [str(o) for o in rows["organization"]],
               "y": rows["avg_velocity"].astype(float).tolist(), "name": str(level)}
              for level, rows in frame.groupby("competency_level", sort=False)]
    layout = {"barmode": "group", "title": {"text": "Mean velocity per organisation and competency level"},
              "yaxis": {"title": {"text": "mean pace"}}}
    return note + _figure(traces, layout, "peers") + _table(frame, {
        "organization": "Organisation", "competency_level": "Level", "avg_velocity": "Mean velocity",
        "median_velocity": "Median velocity", "avg_score": "Mean score", "sample_size": "Learners"})


def health_section(data: ReportData) -> str:
    parts = [f"<h3>Rows per table on {_esc(data.partition)}</h3>",
             '<p class="note">Snapshot tables: the rows of this day\'s snapshot; other tables: every row now.</p>']
    rows = data.table_rows
    if rows.empty:
        parts.append(_empty("No table counted."))
    else:
        scope = rows["scope"] if "scope" in rows else pd.Series("", index=rows.index)
        rows = rows.assign(scope=scope.map({"day": "this day's snapshot", "all": "all rows"}).fillna("–"))
        parts.append(_table(rows, {"table": "Table", "rows": "Rows", "scope": "Counted"}, numeric=("rows",)))
    parts.append("<h3>Quarantine</h3>")
    q = data.quarantine
    if q.empty:
        parts.append(_empty("Nothing extracted or quarantined yet."))
    else:
        q = q.assign(share=q["quarantined"].astype(float) / (q["loaded"].astype(float) + q["quarantined"].astype(float)).where(
            lambda s: s > 0))
        total_q, total_l = float(q["quarantined"].sum()), float(q["loaded"].sum())
        overall = total_q / (total_q + total_l) if total_q + total_l else 0.0
        parts.append(f'<p>Overall quarantine share (every extraction so far): <strong>{overall:.2%}</strong></p>')
        q = q.assign(share=[("–" if pd.isna(v) else f"{v:.2%}") for v in q["share"]])
        parts.append(_table(q, {"resource": "Resource", "quarantined": "Quarantined", "loaded": "Loaded", "share": "Share"},
                            numeric=("quarantined", "loaded")))
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
        ("at-risk", "Learners at risk of dropping off", at_risk_section(data)),
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


def summary_markdown(data: ReportData, path, newest_partition: str | None = None) -> str:
    """The report's key figures as Markdown: the ``summary`` metadata the Dagster UI shows on the
    asset's page (the HTML file itself is on the server's disk, where a browser cannot follow a
    ``file://`` link)."""
    engagement = data.engagement
    active = int(engagement["active"].fillna(False).astype(bool).sum()) if "active" in engagement else 0
    learners = len(engagement)
    scored = data.drop_off[pd.to_numeric(data.drop_off["probability"], errors="coerce").notna()
                           & data.drop_off["risk_level"].notna()]
    high = int((scored["risk_level"] == "high").sum())
    failed = int((data.checks["status"] == "FAILED").sum()) if not data.checks.empty else 0
    lines = [
        f"**Analyst report — day {data.partition}**"
        + ("" if newest_partition in (None, data.partition) else f" (a backfill; the newest day is {newest_partition})"),
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Learners with an engagement snapshot | {learners:,} |",
        f"| … without activity | {learners - active:,} ({_share(learners - active, learners)}) |",
        f"| Learners at high risk of dropping off | {high:,} of {len(scored):,} scored ({_share(high, len(scored))}) |",
        f"| Failed asset checks | {failed:,} |",
        "",
        f"File: `{path}`",
    ]
    return "\n".join(lines)
