"""Synthetic LMS histories for the predictive tests (numpy, seeded, no loops over learners)."""
from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01", tz="UTC")


def make_history(
    n_learners: int = 600,
    days: int = 182,
    seed: int = 0,
    rule: str = "known",
    start: pd.Timestamp = START,
):
    """(events, enrollments, results, T) over ``days`` days; T = start + days.

    rule="known": each learner has a daily activity rate a ~ U(0.25, 0.75) and an ability
    s ~ N(65, 15); from enrollment they quit for good with daily hazard
    sigmoid(-5 + 0.12 * (60 - s)) (weak learners quit sooner), and withdraw 21 days after
    quitting. Assessments (score ~ N(s, 6)) come on ~20 % of active days.
    rule="noise": everyone stays, active each day with probability 0.1: the past says
    nothing about the next 14 days.
    """
    rng = np.random.default_rng(seed)
    n = n_learners
    T = start + pd.Timedelta(days=days)
    users = np.array([f"u{i:04d}" for i in range(n)], dtype=object)
    enroll_day = rng.integers(0, max(1, days - 35), size=n)
    if rule == "noise":
        enroll_day = np.zeros(n, dtype=int)
        rate = np.full(n, 0.1)
        ability = rng.normal(65, 15, size=n)
        quit_day = np.full(n, 10 * days)
    else:
        rate = rng.uniform(0.25, 0.75, size=n)
        ability = rng.normal(65, 15, size=n)
        hazard = 1.0 / (1.0 + np.exp(-(-5.0 + 0.12 * (60.0 - ability))))
        quit_day = enroll_day + rng.geometric(hazard)
    d = np.arange(days)
    alive = (d[None, :] >= enroll_day[:, None]) & (d[None, :] < quit_day[:, None])
    active = alive & (rng.random((n, days)) < rate[:, None])
    ui, di = np.nonzero(active)
    seconds = rng.integers(8 * 3600, 20 * 3600, size=len(ui))
    occurred = start + pd.to_timedelta(di, unit="D") + pd.to_timedelta(seconds, unit="s")
    events = pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(len(ui))],
            "user_id": users[ui],
            "course_id": "c1",
            "content_id": "x1",
            "content_type": "video",
            "event_type": "progressed",
            "occurred_at": occurred,
            "duration_seconds": rng.integers(300, 3600, size=len(ui)),
            "progress_delta": 0.5,
            "updated_at": occurred,
        }
    )
    withdraw = start + pd.to_timedelta(quit_day + 21, unit="D")
    enrollments = pd.DataFrame(
        {
            "id": [f"en{i}" for i in range(n)],
            "user_id": users,
            "course_id": "c1",
            "enrolled_at": start + pd.to_timedelta(enroll_day, unit="D"),
            "target_completion_at": pd.NaT,
            "completed_at": pd.NaT,
            "withdrawn_at": pd.Series(withdraw).where(quit_day + 21 < 10 * days),
            "progress_percent": 0.0,
            "status": "active",
            "updated_at": T,
        }
    )
    enrollments["completed_at"] = pd.to_datetime(enrollments["completed_at"], utc=True)
    enrollments["target_completion_at"] = pd.to_datetime(enrollments["target_completion_at"], utc=True)
    assessed = rng.random(len(ui)) < 0.2
    ra, rd = ui[assessed], occurred[assessed]
    results = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(ra))],
            "user_id": users[ra],
            "course_id": "c1",
            "assessment_id": "a1",
            "skill_id": "s1",
            "score": np.clip(rng.normal(ability[ra], 6.0), 0, 100),
            "passing_score": 60.0,
            "submitted_at": rd + pd.Timedelta(minutes=30),
            "updated_at": rd + pd.Timedelta(minutes=30),
        }
    )
    return events, enrollments, results, T
