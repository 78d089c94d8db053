"""The predictive assets through Dagster against the real PostgreSQL: cache rows, opt-out,
idempotence, the heuristic on a fresh platform, the trainers' risk view, the model's AUC."""
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.assets.predictive import predictive_drop_off_risk
from analytics_pipeline.predictive.features import active_enrollments_at
from analytics_pipeline.predictive.drop_off import predict_drop_off
from tests.predictive.course_synth import make_course_history
from tests.predictive.predictive_db import (cache, history, load, load_courses, metadata, partition_of, run,
                                            set_preferences)

START = pd.Timestamp("2025-01-01", tz="UTC")  # the first daily partition
KINDS = {"drop_off_risk", "forecast", "recommendations"}


def active_at(enrollments, T) -> set:
    return set(active_enrollments_at(enrollments, T)["user_id"])


def test_scheduled_history_fills_the_cache_as_the_pure_layer_predicts(clean_warehouse, warehouse_url, dagster_instance):
    """Course runs with due dates through the warehouse: the asset's chunked SQL reads give the
    pure layer's predictions; opt-outs; the evaluation (gates, baselines, calibration) as metadata."""
    events, enrollments, results, courses, content, T = make_course_history(n_courses=4, learners=120, seed=0,
                                                                            T=START + pd.Timedelta(days=400))
    active = active_at(enrollments, T)
    a, b = sorted(active)[:2]
    load_courses(clean_warehouse, events, enrollments, results, courses, content, T,
                 opted_out={a: ["dropOffRisk"], b: ["forecasting", "recommendations"]})
    result = run(warehouse_url, dagster_instance, partition_of(T))

    rows = cache(clean_warehouse)
    by_kind = {k: set(g["user_id"]) for k, g in rows.groupby("analytics_type")}
    assert by_kind["drop_off_risk"] == active - {a}
    assert by_kind["forecast"] == by_kind["recommendations"] == active - {b}
    assert (rows["expires_at"] - rows["calculated_at"] == pd.Timedelta(hours=48)).all()
    risk = rows.loc[rows["analytics_type"] == "drop_off_risk"].set_index("user_id")

    expected, e = predict_drop_off(events, enrollments, results, courses, content, T)
    expected = expected.set_index("user_id").drop(index=a)
    got = risk["data"].map(lambda d: d["probability"]).reindex(expected.index)
    assert np.allclose(got.to_numpy(dtype=float), expected["probability"].round(4).to_numpy(), atol=1e-4)
    assert (risk["data"].map(lambda d: d["method"]) == e["method"]).all()
    assert risk["data"].map(lambda d: d["enrollments"][0]["position"] == 0.25 and d["risk_level"] in ("high", "medium", "low")).all()
    assert not ((risk["data"].map(lambda d: d["risk_level"]) == "high") & (risk["confidence_score"] < 60)).any()

    m = metadata(result, "predictive_drop_off_risk")
    assert m["method"] == e["method"] and m["auc"] == e["auc"] and m["brier"] <= m["base_rate_brier"]
    assert m["training_rows"] == e["rows"] > 300 and m["split"] == "by course" and m["positions"] == [0.25]
    assert "missed_share" in m["baselines"] and "mean_predicted" in m["calibration"]
    assert m["opted_out_learners"] == 1 and m["learners_computed"] == len(active) - 1
    assert risk["confidence_score"].iloc[0] == pytest.approx(m["confidence_score"])


@pytest.fixture
def small_platform(clean_warehouse):
    events, enrollments, results, T = history(n_learners=120, days=70, seed=3, start=START)
    load(clean_warehouse, events, enrollments, results, T)
    return clean_warehouse, enrollments, T


def test_opt_out_removes_the_existing_row_at_the_next_run(small_platform, warehouse_url, dagster_instance):
    engine, enrollments, T = small_platform
    run(warehouse_url, dagster_instance, partition_of(T))
    before = cache(engine)
    a, b = sorted(active_at(enrollments, T + pd.Timedelta(days=1)))[:2]  # active on both days
    assert {a, b} <= set(before.loc[before["analytics_type"] == "drop_off_risk", "user_id"])
    with engine.begin() as conn:
        set_preferences(conn, [a, b], {a: ["dropOffRisk"], b: ["recommendations"]})

    next_day = T + pd.Timedelta(days=1)
    result = run(warehouse_url, dagster_instance, partition_of(next_day))
    after = cache(engine)
    kinds = lambda u: set(after.loc[after["user_id"] == u, "analytics_type"])  # noqa: E731
    assert kinds(a) == {"forecast", "recommendations"}
    assert kinds(b) == {"drop_off_risk", "forecast"}
    # one live row per learner and kind; rows of learners without new data are the cached ones of T
    assert not after.duplicated(["user_id", "analytics_type"]).any()
    assert set(after["calculated_at"]) <= {T, next_day}
    assert metadata(result, "predictive_drop_off_risk")["opted_out_rows_removed"] == 1
    assert metadata(result, "predictive_recommendations")["opted_out_rows_removed"] == 1

    # an opted-out learner stays without a row; turning the kind back on brings it back
    with engine.begin() as conn:
        set_preferences(conn, [a], {})
    run(warehouse_url, dagster_instance, partition_of(next_day))
    after = cache(engine)
    assert "drop_off_risk" in kinds(a)


def test_rerunning_the_same_day_does_not_duplicate(small_platform, warehouse_url, dagster_instance):
    engine, enrollments, T = small_platform
    run(warehouse_url, dagster_instance, partition_of(T))
    first = cache(engine)
    run(warehouse_url, dagster_instance, partition_of(T))
    second = cache(engine)
    assert len(second) == len(first) == 3 * len(active_at(enrollments, T))
    pd.testing.assert_frame_equal(first.drop(columns="data"), second.drop(columns="data"))
    assert first["data"].tolist() == second["data"].tolist()


def test_fresh_platform_gets_the_prior_with_zero_confidence(clean_warehouse, warehouse_url, dagster_instance):
    events, enrollments, results, T = history(n_learners=60, days=5, seed=1, start=START + pd.Timedelta(days=30))
    load(clean_warehouse, events, enrollments, results, T)
    result = run(warehouse_url, dagster_instance, partition_of(T), assets=[predictive_drop_off_risk])
    m = metadata(result, "predictive_drop_off_risk")
    assert m["method"] == "prior" and m["reason"].startswith("no finished enrollment")
    assert m["training_rows"] == 0 and m["row_count"] == len(active_at(enrollments, T)) > 0
    rows = cache(clean_warehouse)
    assert (rows["confidence_score"] == 0).all()
    assert rows["data"].map(lambda d: d["method"] == "prior" and len(d["top_reasons"]) == 2 and d["risk_level"] != "high").all()


def test_risk_view_shows_unexpired_rows_with_reasons_highest_first(clean_warehouse, warehouse_url, dagster_instance):
    today = pd.Timestamp.now(tz="UTC").floor("D")  # the newest complete partition ends today: rows unexpired
    events, enrollments, results, T = history(n_learners=150, days=90, seed=2, start=today - pd.Timedelta(days=90))
    assert T == today
    load(clean_warehouse, events, enrollments, results, T)
    run(warehouse_url, dagster_instance, partition_of(T), assets=[predictive_drop_off_risk])
    stale_user = sorted(set(enrollments["user_id"]) - active_at(enrollments, T))[0]
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text(
            "insert into predictive_analytics_cache (user_id, analytics_type, data, confidence_score, calculated_at, expires_at) "
            "values (:u, 'drop_off_risk', '{\"probability\": 0.99, \"top_reasons\": [\"x: raises risk\"]}', 50, :c, :e)"),
            {"u": stale_user, "c": (T - pd.Timedelta(days=3)).to_pydatetime(), "e": (T - pd.Timedelta(days=1)).to_pydatetime()})
        view = pd.read_sql_query(sa.text("select * from learner_risk_current"), conn)
    assert list(view.columns[:7]) == ["user_id", "organization_id", "probability", "risk_level",
                                      "confidence_score", "top_reasons", "method"]
    assert set(view["user_id"]) == active_at(enrollments, T)
    assert stale_user not in set(view["user_id"])
    assert view["probability"].is_monotonic_decreasing
    assert view["top_reasons"].map(lambda r: len(r) >= 1 and ": " in r[0]).all()
    assert set(view["organization_id"]) == {"o1", "o2"}
    assert (view["expires_at"] > pd.Timestamp.now(tz="UTC")).all()
    with clean_warehouse.connect() as conn:
        options = conn.execute(sa.text("select reloptions from pg_class where relname = 'learner_risk_current'")).scalar_one()
    assert "security_invoker=true" in options


def test_bad_inputs(clean_warehouse, warehouse_url, dagster_instance):
    """Late events, null durations/deltas, a future enrollment, a never-active learner, an item
    without skills, string/odd preference flags; then an empty platform removes opted-out rows."""
    events, enrollments, results, T = history(n_learners=80, days=60, seed=4, start=START)
    late = events.iloc[:50].assign(id=lambda d: "late" + d["id"], occurred_at=T - pd.Timedelta(hours=1),
                                   updated_at=T + pd.Timedelta(days=2))  # arrived after T: unknown at T
    events = pd.concat([events, late], ignore_index=True)
    events.loc[events.index[:20], ["duration_seconds", "progress_delta"]] = None
    extra = enrollments.iloc[:2].assign(id=["en-new", "en-idle"], user_id=["u-future", "u-idle"],
                                        enrolled_at=[T + pd.Timedelta(days=1), T - pd.Timedelta(days=3)],
                                        withdrawn_at=pd.NaT)
    enrollments = pd.concat([enrollments, extra], ignore_index=True)
    p1, p2, p3 = sorted(active_at(enrollments, T) - {"u-idle"})[:3]
    load(clean_warehouse, events, enrollments, results, T)
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("update user_preferences set predictive_analytics_enabled = :p where user_id = :u"),
                     {"p": '{"dropOffRisk": "false", "forecasting": null}', "u": p1})
        conn.execute(sa.text("update user_preferences set predictive_analytics_enabled = '{}' where user_id = :u"), {"u": p2})
    result = run(warehouse_url, dagster_instance, partition_of(T))
    rows = cache(clean_warehouse)
    users = lambda kind: set(rows.loc[rows["analytics_type"] == kind, "user_id"])  # noqa: E731
    active = active_at(enrollments, T)
    assert "u-future" not in active and "u-idle" in active
    assert users("drop_off_risk") == active - {p1}
    assert users("forecast") == users("recommendations") == active
    idle = rows.loc[(rows["user_id"] == "u-idle") & (rows["analytics_type"] == "forecast"), "data"].iloc[0]
    assert idle["enrollments"][0]["reason"] == "no pace"
    assert metadata(result, "predictive_drop_off_risk")["opted_out_learners"] == 1

    # the platform empties (every enrollment withdrawn); a learner opts out of forecasts
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("update enrollments set withdrawn_at = :t, status = 'withdrawn'"), {"t": (T - pd.Timedelta(days=30)).to_pydatetime()})
        set_preferences(conn, [p3], {p3: ["forecasting"]})
    result = run(warehouse_url, dagster_instance, partition_of(T + pd.Timedelta(days=1)))
    assert metadata(result, "predictive_forecast")["row_count"] == 0
    assert metadata(result, "predictive_forecast")["opted_out_rows_removed"] == 1
    left = cache(clean_warehouse)
    assert "forecast" not in set(left.loc[left["user_id"] == p3, "analytics_type"])
    assert (left["calculated_at"] == T).all()  # the old rows of the others simply expire


def test_history_window_keeps_whole_finished_runs(clean_warehouse, warehouse_url, dagster_instance):
    """history_days bounds what the model reads: a run that ended inside the window is read whole
    (its early withdrawals too, so its labels are not biased); one that ended before is not."""
    events, enrollments, results, courses, content, T = make_course_history(n_courses=3, learners=80, seed=6,
                                                                            T=START + pd.Timedelta(days=400))
    load_courses(clean_warehouse, events, enrollments, results, courses, content, T)
    full = predict_drop_off(events, enrollments, results, courses, content, T)[1]
    config = lambda days: {"ops": {"predictive_drop_off_risk": {"config": {"history_days": days}}}}  # noqa: E731
    m = metadata(run(warehouse_url, dagster_instance, partition_of(T), [predictive_drop_off_risk], config(60)),
                 "predictive_drop_off_risk")
    assert m["training_rows"] == full["rows"] and m["auc"] == full["auc"]  # past runs ended at T - 50 days
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("delete from predictive_models"))
        conn.execute(sa.text("delete from predictive_analytics_cache"))
    m = metadata(run(warehouse_url, dagster_instance, partition_of(T), [predictive_drop_off_risk], config(40)),
                 "predictive_drop_off_risk")
    assert m["method"] == "prior" and m["training_rows"] == 0


def test_unchanged_learners_keep_their_cached_row_and_a_changed_learner_gets_a_new_one(
        small_platform, warehouse_url, dagster_instance):
    """The cache is reused while valid: an incremental day recomputes only the learners with
    new data (and the model is the stored one); expired rows and models are recomputed."""
    engine, enrollments, T = small_platform
    day1, day2 = T + pd.Timedelta(days=1), T + pd.Timedelta(days=2)
    run(warehouse_url, dagster_instance, partition_of(T))
    first = cache(engine)
    assert (first["calculated_at"] == T).all()
    changed, unchanged = sorted(active_at(enrollments, day1) & active_at(enrollments, T))[:2]
    with engine.begin() as conn:  # a new event of one learner, ingested on day 1
        conn.execute(sa.text(
            "insert into learning_events (id, user_id, course_id, event_type, occurred_at, duration_seconds, "
            "progress_delta, updated_at) values ('new-1', :u, 'c1', 'completed', :o, 600, 5, :o)"),
            {"u": changed, "o": (T + pd.Timedelta(hours=3)).to_pydatetime()})
        newer = conn.execute(sa.text(
            "select count(*) from learning_events where updated_at > :t and user_id <> :u"),
            {"t": T.to_pydatetime(), "u": changed}).scalar_one()
    assert newer == 0  # nobody else has data after T

    result = run(warehouse_url, dagster_instance, partition_of(day1))
    second = cache(engine)
    assert not second.duplicated(["user_id", "analytics_type"]).any()
    at = lambda frame, u: dict(frame.loc[frame["user_id"] == u, ["analytics_type", "calculated_at"]].to_numpy())  # noqa: E731
    assert at(second, unchanged) == {k: T for k in KINDS}
    assert at(second, changed) == {k: day1 for k in KINDS}
    kept = second.loc[second["user_id"] == unchanged].reset_index(drop=True)
    assert kept["data"].tolist() == first.loc[first["user_id"] == unchanged, "data"].tolist()
    assert set(second.loc[second["calculated_at"] == day1, "user_id"]) == {changed}
    for asset in ("predictive_drop_off_risk", "predictive_forecast", "predictive_recommendations"):
        assert metadata(result, asset)["learners_computed"] == 1
    assert metadata(result, "predictive_drop_off_risk")["model_reused"] is True
    assert metadata(result, "predictive_recommendations")["model_reused"] is True

    # two days after T the first rows and the model have expired: recomputed, model retrained;
    # the changed learner's row of day 1 is still valid and stays
    result = run(warehouse_url, dagster_instance, partition_of(day2))
    third = cache(engine)
    assert at(third, changed) == {k: day1 for k in KINDS}
    assert at(third, unchanged) == {k: day2 for k in KINDS}
    assert metadata(result, "predictive_drop_off_risk")["model_reused"] is False


def test_recommendations_reuse_the_item_effects_content_effectiveness_measured(small_platform, warehouse_url,
                                                                                 dagster_instance):
    """Content effectiveness stores its item effects at T; the recommendations of the same T read
    them instead of measuring again — and they are the effects the recommendations measured before."""
    from analytics_pipeline.analytics.store import run_snapshot
    from analytics_pipeline.predictive.store import catalog, item_effects_by_chunk, learner_set, typed_effects
    from analytics_pipeline.warehouse.models import ITEM_EFFECTS, load_model

    engine, _enrollments, T = small_platform
    with engine.begin() as conn:  # evidence: every other learner completes x2 (skill s1, unused otherwise) two days before a result
        conn.execute(sa.text(
            "insert into learning_events (id, user_id, course_id, content_id, content_type, event_type, occurred_at, "
            "duration_seconds, progress_delta, updated_at) "
            "select 'done-' || r.id, r.user_id, 'c1', 'x2', 'reading', 'completed', r.submitted_at - interval '2 days', "
            "600, 0, r.submitted_at - interval '2 days' from assessment_results r "
            "where right(r.user_id, 1) in ('0', '2', '4', '6', '8')"))
    alone = run(warehouse_url, dagster_instance, partition_of(T))  # no content effectiveness yet: measured here
    assert metadata(alone, "predictive_recommendations")["item_effects_source"] == "measured here"
    with engine.begin() as conn:
        conn.execute(sa.text("delete from predictive_models; delete from predictive_analytics_cache"))

    run_snapshot(engine, "content_effectiveness", T)
    with engine.connect() as conn:
        stored = load_model(conn, ITEM_EFFECTS, T)
    assert stored is not None and pd.Timestamp(stored["trained_at"]) == T
    reused = run(warehouse_url, dagster_instance, partition_of(T))
    meta = metadata(reused, "predictive_recommendations")
    assert meta["item_effects_source"] == "content_effectiveness_analytics"
    assert meta["measured_item_effects"] == len(stored["effects"]["content_id"]) > 0
    with learner_set(engine) as learners:  # the effects the recommendations would have measured themselves
        own = item_effects_by_chunk(learners, catalog(learners.conn, "content_items"), T)
    key = ["content_id", "skill_id"]
    pd.testing.assert_frame_equal(
        typed_effects(pd.DataFrame(stored["effects"])).sort_values(key).reset_index(drop=True),
        own.sort_values(key).reset_index(drop=True), check_exact=False, rtol=1e-9)
