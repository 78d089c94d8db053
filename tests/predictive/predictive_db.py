"""Raw rows for the predictive asset tests: a synthetic history COPYed into the warehouse."""
from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.assets.predictive import PREDICTIVE_ASSETS
from analytics_pipeline.resources import WarehouseResource
from analytics_pipeline.warehouse.bulk import copy_frame
from tests.predictive.predictive_synth import make_history

SKILLS = ["s1", "s2"]
ITEMS = ["x1", "x2", "x3", "x4"]


def partition_of(T: pd.Timestamp) -> str:
    """The daily partition whose snapshot instant is ``T`` (T = end of the partition's day)."""
    return (T - pd.Timedelta(days=1)).strftime("%Y-%m-%d")


def load(engine, events, enrollments, results, T, opted_out: dict | None = None, seed: int = 0) -> None:
    """users (two organizations), a course c1 requiring s1/s2, content x1..x4, current skill
    levels, everyone's preferences (all kinds on unless ``opted_out[user] = [keys off]``), and
    the history's enrollments, events and results."""
    rng = np.random.default_rng(seed)
    users = enrollments["user_id"].drop_duplicates().to_numpy()
    created = pd.Timestamp("2020-01-01", tz="UTC")
    with engine.begin() as conn:
        copy_frame(conn, "organizations", pd.DataFrame({"id": ["o1", "o2"], "name": ["Org 1", "Org 2"]}))
        copy_frame(conn, "users", pd.DataFrame({
            "id": users, "email": [f"{u}@x.org" for u in users],
            "organization_id": np.where(np.arange(len(users)) % 2 == 0, "o1", "o2"),
        }))
        copy_frame(conn, "courses", pd.DataFrame({"id": ["c1"], "name": ["Course 1"], "organization_id": ["o1"]}))
        copy_frame(conn, "skills", pd.DataFrame({"id": SKILLS, "name": ["SQL", "Python"], "updated_at": created}))
        copy_frame(conn, "course_skills", pd.DataFrame({"course_id": "c1", "skill_id": SKILLS, "target_level": [80.0, 70.0]}))
        copy_frame(conn, "content_items", pd.DataFrame({
            "id": ITEMS, "course_id": "c1", "title": ["Intro", "Joins", "Loops", "Misc"],
            "content_type": ["video", "reading", "exercise", "quiz"],
            "skill_ids": [["s1"], ["s1"], ["s2"], []], "updated_at": created,
        }), array_columns=["skill_ids"])
        us = pd.DataFrame({"user_id": np.repeat(users, 2), "skill_id": np.tile(SKILLS, len(users))})
        us["id"] = us["user_id"] + ":" + us["skill_id"]
        us["mastery_level"] = rng.uniform(0, 100, len(us)).round(2)
        us["last_assessed_at"] = created
        copy_frame(conn, "user_skills", us[["id", "user_id", "skill_id", "mastery_level", "last_assessed_at"]])
        enr = enrollments.copy()
        enr["status"] = np.where(enr["withdrawn_at"].notna() & (enr["withdrawn_at"] <= T), "withdrawn", "active")
        copy_frame(conn, "enrollments", enr)
        copy_frame(conn, "learning_events", events)
        copy_frame(conn, "assessment_results", results)
        set_preferences(conn, users, opted_out or {})


def load_courses(engine, events, enrollments, results, courses, content, T, opted_out: dict | None = None) -> None:
    """A scheduled-course history (``course_synth.make_course_history``): users, course runs with
    starts_at/ends_at, content with due dates and weights, enrollments, events, results, preferences."""
    users = enrollments["user_id"].drop_duplicates().to_numpy()
    with engine.begin() as conn:
        copy_frame(conn, "users", pd.DataFrame({"id": users, "email": [f"{u}@x.org" for u in users]}))
        copy_frame(conn, "courses", courses[["id", "name", "expected_weeks", "starts_at", "ends_at"]])
        copy_frame(conn, "content_items", content[["id", "course_id", "title", "content_type", "skill_ids", "due_at",
                                                   "weight", "updated_at"]], array_columns=["skill_ids"])
        enr = enrollments.copy()
        enr["status"] = np.where(enr["withdrawn_at"] <= T, "withdrawn", np.where(enr["completed_at"] <= T, "completed", "active"))
        copy_frame(conn, "enrollments", enr)
        copy_frame(conn, "learning_events", events)
        copy_frame(conn, "assessment_results", results)
        set_preferences(conn, users, opted_out or {})


def set_preferences(conn, users, opted_out: dict) -> None:
    """Upsert every listed user's preferences: all kinds on except ``opted_out[user]``."""
    flags = [{k: k not in opted_out.get(u, ()) for k in ("dropOffRisk", "forecasting", "recommendations")} for u in users]
    conn.execute(sa.text("delete from user_preferences where user_id = any(:ids)"), {"ids": list(users)})
    copy_frame(conn, "user_preferences", pd.DataFrame({"user_id": users, "predictive_analytics_enabled": flags}),
               json_columns=["predictive_analytics_enabled"])


def run(warehouse_url, dagster_instance, partition_key: str, assets=None, run_config=None):
    result = dg.materialize(
        assets or PREDICTIVE_ASSETS, partition_key=partition_key, instance=dagster_instance,
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)}, run_config=run_config,
    )
    assert result.success
    return result


def metadata(result, asset_name: str) -> dict:
    [mat] = result.asset_materializations_for_node(asset_name)
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def cache(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "select user_id, analytics_type, data, confidence_score::float8 as confidence_score, calculated_at, expires_at "
            "from predictive_analytics_cache order by analytics_type, user_id, calculated_at"), conn)


def history(**kwargs):
    return make_history(**kwargs)
