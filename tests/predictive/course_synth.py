"""Scheduled-course histories for the drop-off tests (numpy, seeded, no loops over learners).

``make_course_history(...)`` -> (events, enrollments, results, courses, content, T): ``n_courses``
courses each with a finished run (``k<i>-past``: T-150 d .. T-50 d) and a run at 25 % of its
length (``k<i>-now``: T-25 d .. T+75 d), 8 assessments due every 12 days from day 10 (weight
12.5; ``due_dates=False``: no due dates). Every learner has an engagement e ~ Beta(2, 2) and
stops for good at start + Exponential(30 + 300 e^2) days (after the run's end: never); before
that they submit each due assessment with probability 0.5 + 0.5 e, 0-4 days before it is due,
and have "progressed" events on ~(0.05 + 0.3 e) of their days. Half of those who stop
withdraw 7 days later; the others are completed at the run's end. ``mode="all_complete"``:
nobody stops; ``mode="all_drop"``: everyone stops in the first week.
Rows carry their whole timeline (also after T): the pure layer must cut it at T itself.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def _days(x) -> pd.TimedeltaIndex:
    return pd.to_timedelta(np.asarray(x, dtype=float), unit="D")


def make_course_history(n_courses: int = 4, learners: int = 150, seed: int = 0, due_dates: bool = True,
                        mode: str = "mixed", T: pd.Timestamp = START + 400 * DAY):
    rng = np.random.default_rng(seed)
    runs = pd.DataFrame({"id": [f"k{k}-{w}" for k in range(n_courses) for w in ("past", "now")]})
    runs["starts_at"] = np.where(runs["id"].str.endswith("past"), T - 150 * DAY, T - 25 * DAY)
    runs["starts_at"] = pd.to_datetime(runs["starts_at"], utc=True)
    runs["ends_at"] = runs["starts_at"] + 100 * DAY
    courses = runs.assign(name="Course " + runs["id"], expected_weeks=15)

    n = len(runs) * learners
    run_of = np.repeat(np.arange(len(runs)), learners)
    start = pd.DatetimeIndex(runs["starts_at"].to_numpy()[run_of]).tz_localize("UTC") if runs["starts_at"].dt.tz is None \
        else pd.DatetimeIndex(runs["starts_at"])[run_of]
    users = np.array([f"u{r}-{i:03d}" for r, i in zip(run_of, np.tile(np.arange(learners), len(runs)))], dtype=object)
    e = rng.beta(2, 2, n)
    stop = rng.exponential(30 + 300 * e ** 2)
    if mode == "all_complete":
        stop = np.full(n, 1000.0)
    elif mode == "all_drop":
        stop = rng.uniform(0, 7, n)
    enrolled = start - _days(rng.uniform(0, 30, n))
    stops = stop < 100
    withdraw = stops & (rng.random(n) < 0.5) & (stop + 7 < 100)
    ends = pd.DatetimeIndex(runs["ends_at"])[run_of]
    enrollments = pd.DataFrame({
        "id": [f"en{i}" for i in range(n)], "user_id": users, "course_id": runs["id"].to_numpy()[run_of],
        "enrolled_at": enrolled, "target_completion_at": ends,
        "completed_at": pd.Series(ends).where(~withdraw), "withdrawn_at": pd.Series(start + _days(stop + 7)).where(withdraw),
        "progress_percent": 0.0, "status": "active", "updated_at": T,
    })
    for c in ("enrolled_at", "target_completion_at", "completed_at", "withdrawn_at"):
        enrollments[c] = pd.to_datetime(enrollments[c], utc=True)

    j = np.arange(8)
    content = pd.DataFrame({"id": [f"{r}-a{i}" for r in runs["id"] for i in j],
                            "course_id": np.repeat(runs["id"].to_numpy(), 8),
                            "due_day": np.tile(10 + 12 * j, len(runs))})
    content = content.merge(runs[["id", "starts_at"]].rename(columns={"id": "course_id"}), on="course_id")
    content["due_at"] = (content["starts_at"] + _days(content["due_day"])) if due_dates else pd.NaT
    content["due_at"] = pd.to_datetime(content["due_at"], utc=True)
    content = content.assign(title=content["id"], content_type="project", skill_ids=[[] for _ in range(len(content))],
                             weight=12.5 if due_dates else np.nan, updated_at=START)

    li, ji = np.nonzero((10 + 12 * j)[None, :] < stop[:, None])
    submit = rng.random(len(li)) < 0.5 + 0.5 * e[li]
    li, ji = li[submit], ji[submit]
    sub_at = start[li] + _days(10 + 12 * ji - rng.uniform(0, 4, len(li)) + 0.5)
    active_days = np.minimum(stop, 100) + 30
    k = rng.poisson((0.05 + 0.3 * e) * active_days)
    pl = np.repeat(np.arange(n), k)
    lead = np.asarray((start - enrolled) / DAY, dtype=float)
    prog_at = enrolled[pl] + _days(rng.uniform(0, 1, len(pl)) * (np.minimum(stop, 100)[pl] + lead[pl]))
    ev_user = np.concatenate([li, pl])
    occurred = pd.to_datetime(np.concatenate([np.asarray(sub_at), np.asarray(prog_at)]), utc=True)
    events = pd.DataFrame({
        "id": [f"e{i}" for i in range(len(ev_user))], "user_id": users[ev_user],
        "course_id": runs["id"].to_numpy()[run_of][ev_user],
        "content_id": np.concatenate([np.array([f"{runs['id'][run_of[u]]}-a{q}" for u, q in zip(li, ji)], dtype=object),
                                      np.full(len(pl), None, dtype=object)]),
        "content_type": "project", "event_type": np.r_[np.full(len(li), "completed"), np.full(len(pl), "progressed")],
        "occurred_at": occurred, "duration_seconds": 600.0, "progress_delta": np.r_[np.full(len(li), 12.5), np.zeros(len(pl))],
        "updated_at": occurred,
    })
    results = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in {
        "id": "str", "user_id": "str", "course_id": "str", "assessment_id": "str", "skill_id": "str",
        "score": float, "passing_score": float, "submitted_at": "datetime64[us, UTC]", "updated_at": "datetime64[us, UTC]"}.items()})
    return events, enrollments, results, courses, content.drop(columns=["due_day", "starts_at"]), T
