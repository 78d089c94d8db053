"""A sparse platform (no skills, user skills, results, preferences or deletions) never breaks
the predictive assets: every asset runs on the real PostgreSQL and writes its rows."""
import pandas as pd

from analytics_pipeline.predictive.features import active_enrollments_at
from analytics_pipeline.warehouse.bulk import copy_frame
from tests.predictive.predictive_db import cache, history, metadata, partition_of, run

START = pd.Timestamp("2025-01-01", tz="UTC")


def test_every_predictive_asset_runs_without_skills_results_or_preferences(clean_warehouse, warehouse_url, dagster_instance):
    events, enrollments, _results, T = history(n_learners=150, days=80, seed=5, start=START)
    users = enrollments["user_id"].drop_duplicates()
    with clean_warehouse.begin() as conn:
        copy_frame(conn, "users", pd.DataFrame({"id": users, "email": users + "@x.org"}))
        copy_frame(conn, "courses", pd.DataFrame({"id": ["c1"], "name": ["Course 1"]}))
        copy_frame(conn, "enrollments", enrollments.assign(status="active"))
        copy_frame(conn, "learning_events", events)
    result = run(warehouse_url, dagster_instance, partition_of(T))

    active = set(active_enrollments_at(enrollments, T)["user_id"])
    rows = cache(clean_warehouse)
    by_kind = {k: set(g["user_id"]) for k, g in rows.groupby("analytics_type")}
    assert by_kind == {"drop_off_risk": active, "forecast": active, "recommendations": active}
    recs = rows.loc[rows["analytics_type"] == "recommendations"]
    assert recs["data"].map(lambda d: d == {"content": [], "skills": []}).all()
    assert (recs["confidence_score"] == 0).all()
    assert metadata(result, "predictive_recommendations")["measured_item_effects"] == 0
