"""Next-content recommendations by hand."""
import pandas as pd

from analytics_pipeline.predictive.recommendations import RecommendationConfig, recommend_next

GAPS = pd.DataFrame(
    {
        "user_id": ["u1", "u1", "u2"],
        "skill_id": ["react", "sql", "sql"],
        "skill_name": ["React", "SQL", "SQL"],
        "gap": [40.0, 20.0, 10.0],
        "priority": [40.0, 60.0, 10.0],  # for u1, SQL is the top priority
    }
)
ITEMS = pd.DataFrame(
    {
        "id": ["i1", "i2", "i3", "i4", "i5", "i6"],
        "course_id": ["c1", "c1", "c1", "c1", "c2", "c1"],
        "title": ["A", "B", "C", "D", "E", "F"],
        "content_type": "video",
        "skill_ids": [["react"], ["react"], ["react"], ["sql"], ["sql"], ["go"]],
        "duration_minutes": 10,
    }
)
EFFECTS = pd.DataFrame({"content_id": ["i1", "i2", "i3", "i4", "i5"], "skill_id": ["react", "react", "react", "sql", "sql"],
                        "effect": [12.0, 20.0, -3.0, 7.4, 9.0]})


def content(out, user):
    return out.set_index("user_id").loc[user, "data"]["content"]


def test_most_effective_unused_item_for_the_top_gap_first_with_reason():
    used = pd.DataFrame({"user_id": ["u1"], "content_id": ["i5"]})  # u1 already used the best SQL item
    out = recommend_next(GAPS, EFFECTS, ITEMS, used)
    c = content(out, "u1")
    assert c[0]["content_id"] == "i4"  # top gap SQL: i5 (+9) used, so i4 (+7.4)
    assert c[0]["reason"] == "Closes your SQL gap (20 points): learners who did this scored +7 on SQL"
    assert c[1]["content_id"] == "i2"  # then React's best
    assert c[1]["reason"] == "Closes your React gap (40 points): learners who did this scored +20 on React"
    assert [x["content_id"] for x in c] == ["i4", "i2", "i1"]  # i3 has a negative effect
    assert all(x["source"] == "effect" for x in c)
    assert out.set_index("user_id").loc["u1", "confidence_score"] == 100.0
    assert content(out, "u2")[0]["content_id"] == "i5"  # u2 has not used it
    skills = out.set_index("user_id").loc["u1", "data"]["skills"]
    assert [s["skill_id"] for s in skills] == ["sql", "react"]


def test_at_most_n_items():
    out = recommend_next(GAPS, EFFECTS, ITEMS, pd.DataFrame({"user_id": [], "content_id": []}),
                         config=RecommendationConfig(max_items=2))
    assert [x["content_id"] for x in content(out, "u1")] == ["i5", "i2"]


def test_fallback_to_course_content_when_no_effect_is_known():
    courses = pd.DataFrame({"user_id": ["u1", "u2"], "course_id": ["c1", "c1"]})
    out = recommend_next(GAPS, EFFECTS.iloc[:0], ITEMS, pd.DataFrame({"user_id": ["u1"], "content_id": ["i1"]}), learner_courses=courses)
    c = content(out, "u1")
    assert c[0]["content_id"] == "i4" and c[0]["source"] == "fallback"  # i5 is in c2, not u1's course
    assert c[0]["reason"] == "Targets your SQL gap (20 points) in your course c1; no effectiveness data yet"
    assert [x["content_id"] for x in c] == ["i4", "i2", "i3"]
    assert out.set_index("user_id").loc["u1", "confidence_score"] == 0.0


def test_learners_gives_exactly_one_row_per_active_learner():
    used = pd.DataFrame({"user_id": [], "content_id": []}, dtype=str)
    out = recommend_next(GAPS, EFFECTS, ITEMS, used, learners=["u2", "u3"])  # u1 not active, u3 has no gap
    assert list(out["user_id"]) == ["u2", "u3"]
    assert content(out, "u2")[0]["content_id"] == "i5"
    assert out.set_index("user_id").loc["u3", "data"] == {"content": [], "skills": []}
    assert out.set_index("user_id").loc["u3", "confidence_score"] == 0.0
    empty = recommend_next(GAPS.iloc[:0], EFFECTS.iloc[:0], ITEMS, used, learners=["u9"])
    assert empty.set_index("user_id").loc["u9", "data"] == {"content": [], "skills": []}


def test_no_skills_at_all_read_from_the_database_as_untyped_empty_frames():
    """An LRS alone fills no skills: the empty frames come back with float columns (no crash)."""
    gaps = pd.DataFrame({c: pd.Series(dtype=float) for c in ("user_id", "skill_id", "skill_name", "gap", "priority")})
    effects = pd.DataFrame({c: pd.Series(dtype=float) for c in ("content_id", "skill_id", "effect")})
    items = ITEMS.assign(skill_ids=[[] for _ in range(len(ITEMS))])
    out = recommend_next(gaps, effects, items, pd.DataFrame({"user_id": [], "content_id": []}), learners=["u1"],
                         learner_courses=pd.DataFrame({"user_id": ["u1"], "course_id": ["c1"]}))
    assert out.set_index("user_id").loc["u1", "data"] == {"content": [], "skills": []}


def test_cutting_candidates_that_can_never_be_recommended_changes_nothing(monkeypatch):
    """Many items per gap, items shared by gaps, duplicated skill ids, repeated effects, used
    items: the early cut (``_never_past``) gives exactly the rows of ranking every candidate."""
    import numpy as np

    from analytics_pipeline.predictive import recommendations as rec

    rng = np.random.default_rng(11)
    skills = [f"s{k}" for k in range(6)]
    users = [f"u{k}" for k in range(40)]
    gaps = pd.DataFrame([(u, s, float(rng.integers(0, 50)), float(rng.integers(0, 90)))
                         for u in users for s in rng.choice(skills, 4, replace=False)],
                        columns=["user_id", "skill_id", "gap", "priority"])
    n = 60
    items = pd.DataFrame({"id": [f"i{k:02d}" for k in range(n)], "course_id": rng.choice(["c1", "c2", "c3"], n),
                          "title": rng.choice(list("ABCDEFG"), n), "content_type": "video",
                          "skill_ids": [list(rng.choice(skills, rng.integers(0, 4))) for _ in range(n)]})
    eff = pd.DataFrame({"content_id": rng.choice(items["id"], 120), "skill_id": rng.choice(skills, 120),
                        "effect": rng.normal(3, 5, 120).round(1)})
    used = pd.DataFrame({"user_id": rng.choice(users, 200), "content_id": rng.choice(items["id"], 200)})
    courses = pd.DataFrame({"user_id": rng.choice(users, 70), "course_id": rng.choice(["c1", "c2", "c3"], 70)})
    for cfg in (RecommendationConfig(), RecommendationConfig(max_items=2, top_gaps=2), RecommendationConfig(max_items=9)):
        for lc in (courses, None):
            cut = recommend_next(gaps, eff, items, used, learner_courses=lc, config=cfg, learners=users)
            with monkeypatch.context() as m:
                m.setattr(rec, "_never_past", lambda cand, max_items: cand.copy())
                whole = recommend_next(gaps, eff, items, used, learner_courses=lc, config=cfg, learners=users)
            assert cut["data"].map(lambda d: len(d["content"])).sum() > len(users)
            pd.testing.assert_frame_equal(cut, whole)
