"""Small hand-built raw rows for the learner-analytics asset tests (loaded with copy_frame).

Learner u1 (the one computed by hand in test_backfill.py), enrolled in c1 (target date
2025-04-12), events and results around the partitions 2025-03-10 .. 2025-03-12:

events on c1 (progress_delta; ingested = occurred unless said):
  a 2025-02-20 12:00  +10
  b 2025-03-10 10:00  +8
  c 2025-03-11 15:00  +12
  d 2025-03-12 09:00  +5   ingested 2025-03-13 06:00 (not known at any of the three T)
  e 2025-03-12 20:00  +5
  progress_percent now = 50
results: 03-01 60, 03-10 12:00 80, 03-11 12:00 90 (passing 70),
         03-12 12:00 50 ingested 03-13 08:00.
Others: u2 active in c1 and c2 (no events), u3 withdrawn from c1 on 2025-03-05 (no active
enrollment), u4 enrolled in c2 on 2025-03-12 (active from T3 only), u5 user_skills only.
"""
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.warehouse.bulk import copy_frame


def ts(s):
    return pd.Timestamp(s, tz="UTC")


def load(engine, extra_events=(), now=None):
    now = ts(now or "2025-03-20")
    users = pd.DataFrame({"id": ["u1", "u2", "u3", "u4", "u5"],
                          "email": [f"u{i}@example.org" for i in range(1, 6)],
                          "organization_id": "o1", "created_at": ts("2025-01-01"),
                          "updated_at": ts("2025-01-01")})
    orgs = pd.DataFrame({"id": ["o1"], "name": ["Org"], "created_at": ts("2025-01-01"),
                         "updated_at": ts("2025-01-01")})
    courses = pd.DataFrame({"id": ["c1", "c2"], "name": ["Course 1", "Course 2"],
                            "expected_weeks": [10, 8], "created_at": ts("2025-01-01"),
                            "updated_at": ts("2025-01-01")})
    course_skills = pd.DataFrame({"course_id": ["c1", "c1", "c2"],
                                  "skill_id": ["skill-sql", "skill-python", "skill-react"],
                                  "target_level": [80.0, 50.0, 60.0]})
    enrollments = pd.DataFrame({
        "id": ["e1", "e2", "e3", "e4", "e5"],
        "user_id": ["u1", "u2", "u2", "u3", "u4"],
        "course_id": ["c1", "c1", "c2", "c1", "c2"],
        "enrolled_at": [ts("2025-02-01"), ts("2025-02-15"), ts("2025-02-15"), ts("2025-02-01"),
                        ts("2025-03-12")],
        "target_completion_at": [ts("2025-04-12"), None, None, None, None],
        "completed_at": [None] * 5,
        "withdrawn_at": [None, None, None, ts("2025-03-05"), None],
        "progress_percent": [50.0, 20.0, 0.0, 10.0, 0.0],
        "status": ["active", "active", "active", "withdrawn", "active"],
        "updated_at": now,
    })
    for c in ("target_completion_at", "completed_at", "withdrawn_at"):
        enrollments[c] = pd.to_datetime(enrollments[c], utc=True)
    user_skills = pd.DataFrame({
        "id": ["u1:skill-sql", "u1:skill-python", "u5:skill-sql"],
        "user_id": ["u1", "u1", "u5"], "skill_id": ["skill-sql", "skill-python", "skill-sql"],
        "mastery_level": [30.0, 85.0, 95.0],
        "last_assessed_at": [ts("2025-03-01"), ts("2025-03-11 12:00"), ts("2025-02-01")],
        "updated_at": now})
    content = pd.DataFrame({"id": ["i1", "i2"], "course_id": ["c1", "c1"],
                            "title": ["Intro", "Drill"], "content_type": ["video", "exercise"],
                            "skill_ids": [["skill-sql"], ["skill-sql", "skill-python"]],
                            "duration_minutes": [10.0, 20.0], "updated_at": now})
    ev = [  # id, user, course, content, type, event_type, occurred, ingested, duration, delta
        ("a", "u1", "c1", "i1", "video", "progressed", "2025-02-20 12:00", None, 600.0, 10.0),
        ("b", "u1", "c1", "i1", "video", "completed", "2025-03-10 10:00", None, 900.0, 8.0),
        ("c", "u1", "c1", "i2", "exercise", "progressed", "2025-03-11 15:00", None, 1200.0, 12.0),
        ("d", "u1", "c1", "i2", "exercise", "progressed", "2025-03-12 09:00", "2025-03-13 06:00",
         300.0, 5.0),
        ("e", "u1", "c1", "i2", "exercise", "completed", "2025-03-12 20:00", None, 300.0, 5.0),
        *extra_events,
    ]
    events = pd.DataFrame(ev, columns=["id", "user_id", "course_id", "content_id", "content_type",
                                       "event_type", "occurred_at", "updated_at",
                                       "duration_seconds", "progress_delta"])
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True, format="ISO8601")
    events["updated_at"] = pd.to_datetime(events["updated_at"], utc=True, format="ISO8601").fillna(
        events["occurred_at"])
    results = pd.DataFrame({
        "id": ["r1", "r2", "r3", "r4"], "user_id": "u1", "course_id": "c1",
        "assessment_id": ["a1", "a2", "a3", "a4"], "skill_id": "skill-sql",
        "score": [60.0, 80.0, 90.0, 50.0], "passing_score": 70.0,
        "submitted_at": pd.to_datetime(["2025-03-01 00:00", "2025-03-10 12:00", "2025-03-11 12:00",
                                        "2025-03-12 12:00"], utc=True),
        "updated_at": pd.to_datetime(["2025-03-01 00:00", "2025-03-10 12:00", "2025-03-11 12:00",
                                      "2025-03-13 08:00"], utc=True)})
    with engine.begin() as conn:
        copy_frame(conn, "organizations", orgs)
        copy_frame(conn, "users", users)
        copy_frame(conn, "courses", courses)
        copy_frame(conn, "course_skills", course_skills)
        copy_frame(conn, "enrollments", enrollments)
        copy_frame(conn, "user_skills", user_skills)
        copy_frame(conn, "content_items", content, array_columns=["skill_ids"])
        copy_frame(conn, "learning_events", events)
        copy_frame(conn, "assessment_results", results)


def load_people(conn, users: list[str], courses: dict[str, int | None], stamp: pd.Timestamp) -> None:
    """Organization o1, its ``users`` and the ``courses`` (id -> expected weeks), all created and
    updated at ``stamp`` (the shared start of the random platforms of the rollup tests)."""
    copy_frame(conn, "organizations", pd.DataFrame({"id": ["o1"], "name": ["Org"],
                                                    "created_at": stamp, "updated_at": stamp}))
    copy_frame(conn, "users", pd.DataFrame({"id": users, "email": [f"{u}@example.org" for u in users],
                                            "organization_id": "o1", "created_at": stamp,
                                            "updated_at": stamp}))
    copy_frame(conn, "courses", pd.DataFrame({"id": list(courses), "name": [f"Course {c}" for c in courses],
                                              "expected_weeks": list(courses.values()),
                                              "created_at": stamp, "updated_at": stamp}))


def table_rows(engine, table: str, columns, order_by: str) -> pd.DataFrame:
    """Every row of a rollup table, in a fixed order (compared with assert_frame_equal)."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(f"select {', '.join(columns)} from {table} order by {order_by}"),
                                 conn)
