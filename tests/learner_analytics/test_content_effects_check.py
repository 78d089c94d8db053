"""Content effectiveness' independent check in two parts (warehouse/independent_check.py):
the learner rows of the learner sample computed from the effects the snapshot stored, and
(``content_effects``) every stored effect of a hash sample of skills computed again from the raw
tables. A wrong stored effect of a sampled skill, or a wrong learner row of a sampled learner,
fails the check; on the real rows it passes with 0 mismatches.

Rows: the hand-computed fixture of tests/analytics/test_content_effectiveness.py (26 learners,
effects of i1, i5 and the quiz type on SQL), loaded into the raw tables.
"""
import json

import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics.store import run_snapshot
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.warehouse.bulk import copy_frame
from tests.analytics import test_content_effectiveness as pure

T = pure.T
SKILL = "skill-sql"  # the fixture's s1 ("SQL"), a seeded skill


def load(engine):
    enr, ev, res, cs, _skills = pure.fixture()
    at = T - pd.Timedelta(days=90)
    users = pd.DataFrame({"id": pure.L, "email": [f"{u}@example.org" for u in pure.L],
                          "organization_id": "o1", "created_at": at, "updated_at": at})
    items = pure.ITEMS.assign(skill_ids=[[SKILL]] * len(pure.ITEMS), updated_at=at)
    ev = ev.assign(id=[f"e{i}" for i in range(len(ev))], course_id="c1", updated_at=ev["occurred_at"])
    res = res.assign(skill_id=SKILL, course_id="c1", assessment_id=res["id"], passing_score=70.0,
                     updated_at=res["submitted_at"])
    enr = enr.assign(status="active", updated_at=at)
    with engine.begin() as conn:
        copy_frame(conn, "organizations", pd.DataFrame({"id": ["o1"], "name": ["Org"],
                                                        "created_at": [at], "updated_at": [at]}))
        copy_frame(conn, "users", users)
        copy_frame(conn, "courses", pd.DataFrame({"id": ["c1"], "name": ["Course"], "expected_weeks": [10],
                                                  "created_at": [at], "updated_at": [at]}))
        copy_frame(conn, "course_skills", cs.assign(skill_id=SKILL))
        copy_frame(conn, "enrollments", enr)
        copy_frame(conn, "content_items", items, array_columns=["skill_ids"])
        copy_frame(conn, "learning_events", ev)
        copy_frame(conn, "assessment_results", res)


def published(engine):
    load(engine)
    run_snapshot(engine, "content_effectiveness", T)


def plant(engine, kind: str, key: str, delta: float):
    """Add ``delta`` to the stored effect of (kind, key, SQL)."""
    part, column = ("effects", "content_id") if kind == "item" else ("type_effects", "content_type")
    with engine.begin() as conn:
        model = conn.execute(sa.text("select model from predictive_models where analytics_type = 'item_effects' "
                                     "and calculated_at = :t"), {"t": T.to_pydatetime()}).scalar_one()
        stored = model[part]
        at = [i for i, (k, s) in enumerate(zip(stored[column], stored["skill_id"])) if (k, s) == (key, SKILL)]
        assert len(at) == 1
        stored["effect"][at[0]] += delta
        conn.execute(sa.text("update predictive_models set model = cast(:m as jsonb) where "
                             "analytics_type = 'item_effects' and calculated_at = :t"),
                     {"m": json.dumps(model), "t": T.to_pydatetime()})


def in_sample(engine, every: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"select {independent_check.in_sample(':s', every)}"), {"s": SKILL}).scalar()


def test_the_stored_effects_and_the_learner_rows_equal_their_independent_computation(clean_warehouse):
    published(clean_warehouse)
    report = independent_check.check(clean_warehouse, "content_effectiveness", T)
    assert report["passed"], independent_check.summary(report)
    assert report["compared"] == 26 and report["mismatching_count"] == 0
    effects = report["parts"]["content_effects"]
    # i1 and i5 on SQL, and the quiz type (i3 + i4: 12 learners) and the video and exercise types
    assert effects["compared"] == effects["published"] == effects["independent"] == 5
    rows = independent_check.independent_rows(clean_warehouse, "content_effects", T).set_index("key")
    assert rows.loc["i1", "effect"] == pure.I1 and round(rows.loc["quiz", "effect"], 2) == pure.QUIZ
    # the CLI's "every check" runs the effects once, inside content effectiveness
    names = independent_check.default_checks()
    assert "content_effectiveness" in names and "content_effects" not in names


def test_a_wrong_stored_effect_of_a_sampled_skill_fails_the_check(clean_warehouse):
    published(clean_warehouse)
    plant(clean_warehouse, "item", "i5", 0.5)
    plant(clean_warehouse, "type", "quiz", -0.5)
    report = independent_check.check(clean_warehouse, "content_effectiveness", T)
    assert not report["passed"]
    effects = report["parts"]["content_effects"]
    assert effects["mismatching"] == [f"item|i5|{SKILL}", f"type|quiz|{SKILL}"]
    assert f"content_effects:item|i5|{SKILL}" in report["mismatching"]
    assert "content_effects" in independent_check.summary(report)


def test_the_effects_are_compared_for_the_skills_of_the_hash_sample(clean_warehouse):
    published(clean_warehouse)
    plant(clean_warehouse, "item", "i1", 1.0)
    # a learner bound that samples 1 in `every` learners samples 1 in `every` skills alike
    by_every = {independent_check.learner_sample(clean_warehouse, bound).every: bound for bound in range(2, 26)}
    inside = next(b for e, b in sorted(by_every.items()) if e > 1 and in_sample(clean_warehouse, e))
    outside = next(b for e, b in sorted(by_every.items()) if e > 1 and not in_sample(clean_warehouse, e))
    hit = independent_check.check(clean_warehouse, "content_effects", T, max_learners=inside)
    assert not hit["passed"] and hit["mismatching"] == [f"item|i1|{SKILL}"]
    assert hit["sample"] is not None and "skill_id hash sample" in independent_check.learners_compared(hit)
    missed = independent_check.check(clean_warehouse, "content_effects", T, max_learners=outside)
    assert missed["passed"] and missed["compared"] == missed["published"] == missed["independent"] == 0


def test_a_wrong_learner_row_of_a_sampled_learner_fails_the_check(clean_warehouse):
    published(clean_warehouse)
    every = independent_check.learner_sample(clean_warehouse, 13).every
    with clean_warehouse.connect() as conn:
        sampled = conn.execute(sa.text(
            f"select user_id from content_effectiveness_analytics where calculated_at = :t "
            f"and jsonb_array_length(most_effective) > 0 and {independent_check.in_sample('user_id', every)} "
            "order by user_id limit 1"), {"t": T.to_pydatetime()}).scalar_one()
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text(
            "update content_effectiveness_analytics set most_effective = jsonb_set(most_effective, "
            "'{0,effect}', to_jsonb((most_effective #>> '{0,effect}')::float8 + 0.05)) "
            "where user_id = :u and calculated_at = :t"), {"u": sampled, "t": T.to_pydatetime()})
    report = independent_check.check(clean_warehouse, "content_effectiveness", T, max_learners=13)
    assert not report["passed"]
    assert report["mismatching"] == [sampled]
    assert report["columns"]["most_effective"]["mismatches"] == 1
    assert report["parts"]["content_effects"]["passed"]
