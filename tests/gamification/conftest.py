"""Small hand-built raw frames for the gamification tests (columns of docs/raw-schema.md)."""

import pandas as pd
import pytest

T = pd.Timestamp("2024-03-10 23:59:59", tz="UTC")


def ts(s):
    return pd.Timestamp(s, tz="UTC")


def make_events(rows):
    """rows: (id, user_id, content_id, event_type, occurred_at)."""
    df = pd.DataFrame(rows, columns=["id", "user_id", "content_id", "event_type", "occurred_at"])
    df["course_id"] = "course-1"
    df["content_type"] = "video"
    df["occurred_at"] = pd.to_datetime(df["occurred_at"], utc=True)
    df["duration_seconds"] = 60
    df["progress_delta"] = 0.0
    df["updated_at"] = df["occurred_at"]
    return df[["id", "user_id", "course_id", "content_id", "content_type", "event_type",
               "occurred_at", "duration_seconds", "progress_delta", "updated_at"]]


def make_results(rows):
    """rows: (id, user_id, assessment_id, score, submitted_at[, passing_score=70])."""
    rows = [r if len(r) == 6 else (*r, 70) for r in rows]
    df = pd.DataFrame(rows, columns=["id", "user_id", "assessment_id", "score", "submitted_at",
                                     "passing_score"])
    df["course_id"] = "course-1"
    df["skill_id"] = "skill-1"
    df["submitted_at"] = pd.to_datetime(df["submitted_at"], utc=True)
    df["updated_at"] = df["submitted_at"]
    return df[["id", "user_id", "course_id", "assessment_id", "skill_id", "score",
               "passing_score", "submitted_at", "updated_at"]]


def make_enrollments(rows):
    """rows: (id, user_id, course_id, completed_at or None)."""
    df = pd.DataFrame(rows, columns=["id", "user_id", "course_id", "completed_at"])
    df["enrolled_at"] = ts("2024-01-01")
    df["completed_at"] = pd.to_datetime(df["completed_at"], utc=True)
    df["target_completion_at"] = pd.NaT
    df["withdrawn_at"] = pd.NaT
    df["progress_percent"] = 0
    df["status"] = df["completed_at"].notna().map({True: "completed", False: "active"})
    df["updated_at"] = ts("2024-01-01")
    return df


def make_skills(rows):
    """rows: (user_id, skill_id, mastery_level, last_assessed_at)."""
    df = pd.DataFrame(rows, columns=["user_id", "skill_id", "mastery_level", "last_assessed_at"])
    df["id"] = df["user_id"] + ":" + df["skill_id"]
    df["last_assessed_at"] = pd.to_datetime(df["last_assessed_at"], utc=True)
    df["updated_at"] = df["last_assessed_at"]
    return df


EMPTY_EVENTS = make_events([])
EMPTY_RESULTS = make_results([])
EMPTY_ENROLLMENTS = make_enrollments([])
EMPTY_SKILLS = make_skills([])


@pytest.fixture
def frames():
    import types
    return types.SimpleNamespace(
        T=T, ts=ts, events=make_events, results=make_results, enrollments=make_enrollments,
        skills=make_skills, no_events=EMPTY_EVENTS, no_results=EMPTY_RESULTS,
        no_enrollments=EMPTY_ENROLLMENTS, no_skills=EMPTY_SKILLS,
    )
