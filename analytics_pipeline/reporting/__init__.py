"""reporting layer: the analyst report rendered from DataFrames to one self-contained HTML page
(plotly.js inlined once; no database, no Dagster). The asset ``analyst_report``
(``assets/report.py``) reads the frames with ``sql/queries/reporting/*.sql`` and writes the file.
"""
from .render import ReportData, render_report, summary_markdown

__all__ = ["ReportData", "render_report", "summary_markdown"]
