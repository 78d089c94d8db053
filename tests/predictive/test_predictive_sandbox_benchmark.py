"""The drop-off layer on the synthetic sandbox (``dropout-benchmark --sandbox``): the default demo
has scheduled runs with deadlines, and the deadline features rank its scheduled drop-outs."""
from __future__ import annotations

from analytics_pipeline.bench.dropout import render, sandbox_benchmark


def test_sandbox_benchmark_scores_deadline_driven_dropout():
    result = sandbox_benchmark("XS", 42, at_day=60)
    table = {r["method"]: r for r in result["table"]}
    assert result["scheduled_enrollments"] > 100 and result["history_rows"] > 200
    assert 0.2 < result["dropped_out"] / result["scored_enrollments"] < 0.7
    served = next(r for name, r in table.items() if name.startswith("served"))
    assert served["auc"] > 0.7 and served["brier"] < result["base_rate_brier"]
    # deadline features exist (due dates passed) and rank the scheduled enrollments' drop-out
    assert table["baseline: missed_share"]["auc_scheduled"] > 0.6
    assert table["baseline: events_vs_cohort"]["auc_scheduled"] > 0.6
    assert "AUC scheduled" in render(result)
