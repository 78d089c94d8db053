"""Issue 18: the predictive store's cheaper paths give the values of a full recomputation.

* drop-off: one pass over every active learner (cohort parts) keeps the stale learners' raw
  features and scores them: an incremental day's rows equal a full recomputation's of the same
  day with the same model, and the pure layer's scores of every learner;
* forecast: the store's reads give the pure layer's forecast of the raw events (late events,
  null deltas, week boundaries);
* recommendations: an incremental day (a skill no course of theirs requires changed: not
  stale) gives the rows of a full recomputation; a required skill renamed recomputes its learners.
"""
import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.predictive import DropOffConfig, ForecastConfig, RecommendationConfig, store
from analytics_pipeline.predictive.drop_off import score_drop_off
from analytics_pipeline.predictive.forecast import forecast_completion
from analytics_pipeline.warehouse.models import load_model
from tests.predictive.course_synth import make_course_history
from tests.predictive.predictive_db import cache, history, load, load_courses

START = pd.Timestamp("2025-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def read(engine, table: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(f"select * from {table}"), conn)


def rows_of(engine, kind: str) -> pd.DataFrame:
    c = cache(engine)
    return c.loc[c["analytics_type"] == kind].set_index("user_id")


def drop_off(engine, T, chunk_learners=25):
    run = store.drop_off_run(engine, T, DropOffConfig(), 365, 10_000, chunk_learners)
    store.write_kind(engine, "drop_off_risk", run, T)
    return run


def add_events(engine, users, at):
    """One new event per user (in their course), ingested at ``at``."""
    with engine.begin() as conn:
        for k, u in enumerate(users):
            conn.execute(sa.text(
                "insert into learning_events (id, user_id, course_id, event_type, occurred_at, duration_seconds, "
                "progress_delta, updated_at) select :id, user_id, course_id, 'progressed', :o, 60, 3, :o "
                "from enrollments where user_id = :u limit 1"),
                {"id": f"new-{k}", "u": u, "o": at.to_pydatetime()})


def test_drop_off_incremental_day_equals_a_full_recomputation(clean_warehouse):
    engine = clean_warehouse
    events, enrollments, results, courses, content, T = make_course_history(n_courses=4, learners=60, seed=2,
                                                                            T=START + 400 * DAY)
    load_courses(engine, events, enrollments, results, courses, content, T)
    first = drop_off(engine, T)
    assert not first.reused and first.counters["active_learners_read"] == len(first.frame) > 100
    day1 = T + DAY
    with engine.connect() as conn:
        active = sorted(conn.execute(sa.text(
            "select user_id from enrollments where enrolled_at <= :t and (withdrawn_at is null or withdrawn_at > :t) "
            "and (completed_at is null or completed_at > :t)"), {"t": day1.to_pydatetime()}).scalars())
    changed = active[::17][:5]
    add_events(engine, changed, T + pd.Timedelta(hours=5))

    incremental = drop_off(engine, day1)
    recomputed = sorted(incremental.frame["user_id"])  # the changed ones, and those with the history's day-1 rows
    assert incremental.reused and set(changed) <= set(recomputed) and len(recomputed) < len(active) / 2
    assert incremental.counters["active_learners_read"] == len(active)  # the cohorts: every active learner
    inc = rows_of(engine, "drop_off_risk")
    assert sorted(inc.loc[inc["calculated_at"] == day1].index) == recomputed
    changed = recomputed

    with engine.begin() as conn:  # the same day recomputed from scratch with the same (stored) model
        conn.execute(sa.text("delete from predictive_analytics_cache"))
    full = drop_off(engine, day1)
    assert full.reused and len(full.frame) == len(active)
    every = rows_of(engine, "drop_off_risk")
    assert inc.loc[changed, "data"].tolist() == every.loc[changed, "data"].tolist()
    assert inc.loc[changed, "confidence_score"].tolist() == every.loc[changed, "confidence_score"].tolist()

    # and the pure layer's scores of every learner with that model, from the warehouse's rows
    with engine.connect() as conn:
        model = load_model(conn, "drop_off_risk", day1)
    frames = [read(engine, t) for t in ("learning_events", "enrollments", "assessment_results", "courses", "content_items")]
    expected = score_drop_off(model, *frames, day1).set_index("user_id")
    got = every["data"].map(lambda d: d["probability"]).reindex(expected.index)
    assert np.allclose(got.to_numpy(dtype=float), expected["probability"].round(4).to_numpy(), atol=1e-4)


def test_forecast_through_the_store_equals_the_raw_events(clean_warehouse):
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=80, days=90, seed=5, start=START)
    u = sorted(enrollments.loc[enrollments["withdrawn_at"].isna(), "user_id"])[0]
    course = enrollments.loc[enrollments["user_id"] == u, "course_id"].iloc[0]
    edge = pd.DataFrame({  # on the week bounds, at T, before the window, unknown at T, without a delta
        "occurred_at": [T, T - 7 * DAY, T - 7 * DAY + pd.Timedelta(microseconds=1), T - 56 * DAY,
                        T - 56 * DAY + pd.Timedelta(microseconds=1), T - 80 * DAY, T - DAY, T - 2 * DAY],
        "progress_delta": [1.25, 2.5, 0.75, 4.0, 3.0, 5.5, 7.0, None],
        "updated_at": [T, T, T, T, T, T, T + DAY, T],
    })
    edge = edge.assign(id=[f"edge-{k}" for k in range(len(edge))], user_id=u, course_id=course,
                       event_type="progressed", duration_seconds=60.0)
    events = pd.concat([events, edge[[c for c in events.columns if c in edge.columns]]], ignore_index=True)
    load(engine, events, enrollments, results, T)

    run = store.forecast_run(engine, T, ForecastConfig())
    raw = read(engine, "learning_events")
    with engine.connect() as conn:
        courses = store.catalog(conn, "courses")
    expected = forecast_completion(raw, read(engine, "enrollments"), T, ForecastConfig(), courses)
    got = run.frame.sort_values("user_id").reset_index(drop=True)
    assert len(got) == len(expected) > 30 and u in set(got["user_id"])
    assert got["user_id"].tolist() == expected["user_id"].tolist()
    assert got["data"].tolist() == expected["data"].tolist()
    assert got["confidence_score"].tolist() == expected["confidence_score"].tolist()


def test_recommendations_incremental_day_equals_a_full_recomputation(clean_warehouse):
    engine = clean_warehouse
    events, enrollments, results, T = history(n_learners=120, days=70, seed=3, start=START)
    load(engine, events, enrollments, results, T)

    def recommend(at):
        run = store.recommendations_run(engine, at, RecommendationConfig())
        store.write_kind(engine, "recommendations", run, at)
        return run

    recommend(T)
    day1 = T + DAY
    with engine.connect() as conn:
        users = sorted(conn.execute(sa.text(
            "select distinct user_id from enrollments where withdrawn_at is null and completed_at is null")).scalars())
    changed = users[::13][:5]
    with engine.begin() as conn:  # they use item x1 on day 1: never recommended to them again
        for k, u in enumerate(changed):
            conn.execute(sa.text(
                "insert into learning_events (id, user_id, course_id, content_id, content_type, event_type, occurred_at, "
                "duration_seconds, progress_delta, updated_at) values (:id, :u, 'c1', 'x1', 'video', 'completed', :o, 60, 1, :o)"),
                {"id": f"use-{k}", "u": u, "o": (T + pd.Timedelta(hours=2)).to_pydatetime()})
        # a skill no course requires changes nobody's recommendations: nobody else is stale
        conn.execute(sa.text("insert into skills (id, name, updated_at) values ('s9', 'Go', :o)"),
                     {"o": (T + pd.Timedelta(hours=3)).to_pydatetime()})
    inc_run = recommend(day1)
    assert sorted(inc_run.frame["user_id"]) == changed
    inc = rows_of(engine, "recommendations")
    assert not inc.loc[changed, "data"].map(lambda d: any(c["content_id"] == "x1" for c in d["content"])).any()
    with engine.begin() as conn:
        conn.execute(sa.text("delete from predictive_analytics_cache"))
    recommend(day1)
    every = rows_of(engine, "recommendations")
    assert len(every) >= len(users) - 5
    assert inc.loc[changed, "data"].tolist() == every.loc[changed, "data"].tolist()
    assert inc.loc[changed, "confidence_score"].tolist() == every.loc[changed, "confidence_score"].tolist()

    # a skill the course requires is renamed: every learner of the course is recomputed
    with engine.begin() as conn:
        conn.execute(sa.text("update skills set name = 'Structured Query Language', updated_at = :o where id = 's1'"),
                     {"o": (day1 + pd.Timedelta(hours=1)).to_pydatetime()})
    day2 = day1 + DAY
    renamed = recommend(day2)
    assert len(renamed.frame) > 0.9 * len(every)  # without the rename: none (their rows of day 1 are fresh)
    gaps = renamed.frame["data"].map(lambda d: [g["skill_name"] for g in d["skills"]])
    assert gaps.map(lambda names: "Structured Query Language" in names).any()
    assert not gaps.map(lambda names: "SQL" in names).any()


def test_chunks_put_each_learner_of_the_set_in_exactly_one_chunk_table(clean_warehouse):
    """``LearnerSet.chunks`` fills ``pg_temp.predictive_chunk`` with hash bucket i of n of the learner
    set (what every chunked query reads): the chunks partition the set, and a chunked query reads
    only the chunk's learners."""
    events, enrollments, results, T = history(n_learners=40, days=60, seed=1, start=START)
    load(clean_warehouse, events, enrollments, results, T)
    with store.learner_set(clean_warehouse, chunk_learners=15) as learners:
        learners.active(T)
        everyone = set(learners.ids())
        seen = []
        for chunk in learners.chunks():
            ids = set(pd.read_sql_query(sa.text("select user_id from pg_temp.predictive_chunk"), learners.conn)["user_id"])
            enr = store.query(learners.conn, "enrollments", since=T, t=T, **chunk)
            assert ids and set(enr["user_id"]) <= ids
            seen.append(ids)
    assert len(seen) == -(-len(everyone) // 15) > 1
    assert set().union(*seen) == everyone and sum(map(len, seen)) == len(everyone)
