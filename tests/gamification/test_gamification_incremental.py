"""item_awards: once-per-item awards keyed on user:item (pure, hand-computed)."""
from analytics_pipeline.gamification import PointRules, item_awards


def test_item_awards_are_keyed_on_learner_and_item(frames):
    ev = frames.events([("e1", "u1", "c1", "completed", "2024-03-10 09:00"),
                        ("e2", "u1", "c1", "completed", "2024-03-10 10:00"),
                        ("e3", "u1", None, "completed", "2024-03-10 11:00"),
                        ("e4", "u1", "c2", "started", "2024-03-10 11:00")])
    res = frames.results([("r1", "u1", "a1", 95, "2024-03-10 12:00"), ("r2", "u1", "a1", 99, "2024-03-10 13:00")])
    enr = frames.enrollments([("en1", "u1", "course-7", "2024-03-10 14:00")])
    out = item_awards(ev, res, enr, frames.T).sort_values(["activity_type", "source_id"])
    got = list(zip(out["activity_type"], out["source_id"], out["origin_id"], out["points"]))
    assert got == [
        ("assessment_excellence_bonus", "u1:a1", "r1", 10),
        ("assessment_passed", "u1:a1", "r1", 25),
        ("content_completed", "id:e3", "e3", 10),   # no content id: keyed on its own id
        ("content_completed", "u1:c1", "e1", 10),
        ("course_completed", "u1:course-7", "en1", 100),
    ]


def test_every_completion_pays_when_configured(frames):
    ev = frames.events([("e1", "u1", "c1", "completed", "2024-03-10 09:00"),
                        ("e2", "u1", "c1", "completed", "2024-03-10 10:00")])
    out = item_awards(ev, frames.no_results, frames.no_enrollments, frames.T,
                      PointRules(award_once_per_item=False))
    assert sorted(out["source_id"]) == ["id:e1", "id:e2"]


def test_nothing_in_nothing_out(frames):
    out = item_awards(frames.no_events, frames.no_results, frames.no_enrollments, frames.T)
    assert out.empty and list(out.columns)[-1] == "origin_id"


def test_each_completion_without_content_id_pays_once_per_item_or_not(frames):
    # u1 completes c1 twice and three times without content id (null, null, empty) on one day:
    # c1 pays once (10), each completion without content id on its own (3 × 10): 40. Found by the independent check
    # (a nightly window collapsed the id-less completions into one award).
    events = frames.events([
        ("e1", "u1", "c1", "completed", "2024-03-08 09:00"),
        ("e2", "u1", "c1", "completed", "2024-03-08 10:00"),
        ("e3", "u1", None, "completed", "2024-03-08 11:00"),
        ("e4", "u1", None, "completed", "2024-03-08 12:00"),
        ("e5", "u1", "", "completed", "2024-03-08 13:00"),
    ])
    awards = item_awards(events, frames.no_results, frames.no_enrollments, frames.T)
    assert awards["source_id"].tolist() == ["u1:c1", "id:e3", "id:e4", "id:e5"]
    assert awards["points"].sum() == 40
