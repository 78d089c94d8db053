"""Rows for the gamification database tests, inserted with plain SQL, and asset runs."""
from __future__ import annotations

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.assets.aggregates import AGGREGATE_ASSETS
from analytics_pipeline.assets.gamification import GAMIFICATION_ASSETS
from analytics_pipeline.resources import WarehouseResource


def ts(s):
    return pd.Timestamp(s, tz="UTC").to_pydatetime()


def add_org(engine, org_id, timezone=None, settings=None):
    import json

    if settings is None:
        settings = {"timezone": timezone} if timezone else None
    with engine.begin() as conn:
        conn.execute(sa.text("insert into organizations (id, name, settings) values (:id, :id, cast(:s as jsonb))"),
                     {"id": org_id, "s": json.dumps(settings) if settings is not None else None})


def add_users(engine, ids, org_id=None, privacy=None):
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into users (id, email, full_name, avatar_url, organization_id) "
            "values (:id, :id || '@example.org', 'Name of ' || :id, 'https://img/' || :id, :org)"),
            [{"id": i, "org": org_id} for i in ids])
        if privacy:
            conn.execute(sa.text("insert into user_preferences (user_id, leaderboard_privacy) values (:id, :p)"),
                         [{"id": i, "p": privacy} for i in ids])


def add_events(engine, rows):
    """rows: (id, user_id, content_id, event_type, occurred_at)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into learning_events (id, user_id, course_id, content_id, content_type, event_type, "
            "occurred_at, duration_seconds, progress_delta, updated_at) "
            "values (:id, :u, 'course-1', :c, 'video', :e, :t, 60, 1, :t)"),
            [{"id": r[0], "u": r[1], "c": r[2], "e": r[3], "t": ts(r[4])} for r in rows])


def add_results(engine, rows):
    """rows: (id, user_id, assessment_id, score, submitted_at)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into assessment_results (id, user_id, course_id, assessment_id, skill_id, score, "
            "passing_score, submitted_at, updated_at) values (:id, :u, 'course-1', :a, 'skill-sql', :s, 70, :t, :t)"),
            [{"id": r[0], "u": r[1], "a": r[2], "s": r[3], "t": ts(r[4])} for r in rows])


def add_course(engine, course_id="course-1"):
    with engine.begin() as conn:
        conn.execute(sa.text("insert into courses (id, name) values (:id, :id) on conflict do nothing"), {"id": course_id})


def add_enrollments(engine, rows):
    """rows: (id, user_id, course_id, completed_at)."""
    with engine.begin() as conn:
        for r in rows:
            conn.execute(sa.text("insert into courses (id, name) values (:id, :id) on conflict do nothing"),
                         {"id": r[2]})
        conn.execute(sa.text(
            "insert into enrollments (id, user_id, course_id, enrolled_at, completed_at, progress_percent, status) "
            "values (:id, :u, :c, '2024-01-01', :t, 100, 'completed')"),
            [{"id": r[0], "u": r[1], "c": r[2], "t": ts(r[3])} for r in rows])


def run_gamification(warehouse_url, partition_key, run_config=None, assets=None):
    result = dg.materialize(
        assets or GAMIFICATION_ASSETS, partition_key=partition_key,
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
        run_config=run_config, raise_on_error=True,
    )
    assert result.success
    return result


def refresh_aggregates(warehouse_url, names=None):
    selected = [a for a in AGGREGATE_ASSETS if names is None or a.key.to_user_string() in names]
    result = dg.materialize(selected, resources={"warehouse": WarehouseResource(database_url=warehouse_url)})
    assert result.success
    return result


def metadata(result, asset_name):
    mats = [m for m in result.asset_materializations_for_node(asset_name)]
    return {k: v.value for k, v in mats[-1].metadata.items()}


def ledger(engine):
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "select user_id, points, activity_type, source_id, metadata::text as metadata, \"timestamp\" "
            "from point_transactions order by activity_type, source_id"), conn)


def table(engine, sql, **params):
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql), conn, params=params)
