"""Derived synthetic rows: enrollment versions, assessment results, user skills, preferences.

- Enrollment versions: one when enrolled (progress 0), one per day with activity (published
  1-3 h after that UTC day ends, with the cumulative progress); completed at the event that
  reaches 100 %, or (scheduled course, not withdrawn) graded at the end of the run (+1 h..3 days,
  progress as it is: a submission counts 60 / K %, so the progress tracks what was submitted),
  pass or fail, as OULAD's final results.
  A **withdrawal** version for 75 % of the drop-outs of scheduled courses (quit before the run's
  end) and 40 % of those of self-paced ones, unless completed: withdrawn 1-14 days after the
  enrollment's last learning event (or after max(enrolled, start) without any), never before the
  last progress version, and (scheduled) before the run's end; 30 % of withdrawn enrollments are
  deleted 1-10 days later.
- Assessment results: a completed quiz (always), exercise (70 %) or project (90 %) is
  submitted, a deadline submission always; score ~ N(30 + 55 e, 15) clipped to 0-100, passing
  score 50-80 per assessment; half of the failures are retaken 1-4 days later (+8 points on
  average), unless the learner quit the course by then.
- User skills: about five self-declared skills per learner (never assessed), then one version per
  assessment of the skill with mastery = mean score so far.
"""
from __future__ import annotations

import numpy as np

from analytics_pipeline.sandbox.activity import COMPLETED, Activity
from analytics_pipeline.sandbox.directory import Directory
from analytics_pipeline.sandbox.profiles import DAY, HOUR, START, Profile
from analytics_pipeline.sandbox.tables import NEVER, NULL_TS

ACTIVE, STATUS_COMPLETED, WITHDRAWN = 0, 1, 2
STATUSES = ["active", "completed", "withdrawn"]
ASSESSED_P = np.array([0.0, 0.0, 1.0, 0.7, 0.9])  # by content type


def enrollment_versions(rng, p: Profile, d: Directory, a: Activity) -> dict:
    """Version rows of the enrollments (column ``enr`` = enrollment number)."""
    ev, n_enr, end = a.ev, len(a.enr_user), START + p.timeline_days * DAY
    day = (ev["occurred"] - START) // DAY
    key = ev["enr"] * (p.timeline_days + 1) + day
    last = np.flatnonzero(np.concatenate([key[1:] != key[:-1], [True]])) if len(key) else key
    v_enr, v_day, v_prog = ev["enr"][last], day[last], ev["progress"][last]
    done = v_prog >= 100
    completed_at = np.full(n_enr, NULL_TS)
    stop = np.flatnonzero(ev["progress"] >= 100)
    completed_at[ev["enr"][stop]] = ev["occurred"][stop]
    final_prog = np.zeros(n_enr)
    final_prog[v_enr] = v_prog
    last_update = np.full(n_enr, 0)
    v_updated = START + (v_day + 1) * DAY + rng.integers(HOUR, 3 * HOUR, len(v_enr))
    np.maximum.at(last_update, v_enr, v_updated)

    sched = d.course_scheduled[a.enr_course]
    starts, ends = d.course_starts[a.enr_course], d.course_ends[a.enr_course]
    quit = a.enr_quit
    last_event = np.full(n_enr, NULL_TS)
    if len(ev["enr"]):
        np.maximum.at(last_event, ev["enr"], ev["occurred"])
    since = np.maximum(np.where(last_event != NULL_TS, last_event, a.enr_enrolled), np.where(sched, starts, NULL_TS))
    withdrawn_at = np.maximum(since + rng.integers(DAY, 14 * DAY, n_enr), last_update + HOUR)
    dropped = (quit < end) & (completed_at == NULL_TS) & np.where(sched, quit < ends, True)
    withdraw = dropped & (rng.random(n_enr) < np.where(sched, 0.75, 0.4))
    withdraw &= (withdrawn_at < end) & np.where(sched, withdrawn_at < ends, True)
    # scheduled: every enrollment not withdrawn is graded (completed) at the run's end, pass or
    # fail as OULAD's final results; its progress is what the learner submitted
    graded = sched & ~withdraw & (completed_at == NULL_TS)
    graded_at = np.maximum(ends + rng.integers(HOUR, 3 * DAY, n_enr), last_update + HOUR)
    graded &= graded_at < end
    g = np.flatnonzero(graded)
    completed_at[g] = graded_at[g]
    w = np.flatnonzero(withdraw)
    deleted_at = np.full(n_enr, NEVER)
    gone = w[rng.random(len(w)) < 0.3]
    deleted_at[gone] = withdrawn_at[gone] + rng.integers(DAY, 10 * DAY, len(gone))
    erased = np.isin(a.enr_user, a.erased_users)
    erase_at = dict(zip(a.erased_users.tolist(), a.erase_at.tolist()))
    deleted_at[erased] = [erase_at[u] for u in a.enr_user[erased].tolist()]

    n0 = np.arange(n_enr)
    cols = {
        "enr": np.concatenate([n0, v_enr, w, g]),
        "updated_at": np.concatenate([a.enr_enrolled + rng.integers(1, 60, n_enr), v_updated, withdrawn_at[w],
                                      graded_at[g]]),
        "progress_percent": np.concatenate([np.zeros(n_enr), v_prog, final_prog[w], final_prog[g]]),
        "status": np.concatenate([np.full(n_enr, ACTIVE), np.where(done, STATUS_COMPLETED, ACTIVE),
                                  np.full(len(w), WITHDRAWN), np.full(len(g), STATUS_COMPLETED)]),
        "completed_at": np.concatenate([np.full(n_enr, NULL_TS), np.where(done, completed_at[v_enr], NULL_TS),
                                        np.full(len(w), NULL_TS), completed_at[g]]),
        "withdrawn_at": np.concatenate([np.full(n_enr + len(v_enr), NULL_TS), withdrawn_at[w], np.full(len(g), NULL_TS)]),
    }
    enr = cols["enr"]
    cols.update(user=a.enr_user[enr], course=a.enr_course[enr], enrolled_at=a.enr_enrolled[enr],
                target_completion_at=a.enr_target[enr], deleted_at=deleted_at[enr])
    return cols


def assessment_results(rng, p: Profile, d: Directory, a: Activity) -> dict:
    """Assessment rows sorted by submitted_at (row number = id number)."""
    ev, end = a.ev, START + p.timeline_days * DAY
    take = (ev["etype"] == COMPLETED) & ((rng.random(len(ev["etype"])) < ASSESSED_P[ev["ctype"]]) | ev["sub"])
    idx = np.flatnonzero(take)
    e = a.engagement[ev["user"][idx]]
    n_content = len(d.content_course)
    passing_by_content = rng.choice([50, 60, 70, 80], n_content)
    content = ev["content"][idx]
    submitted = ev["occurred"][idx] + np.nan_to_num(ev["duration"][idx]).astype(np.int64) + rng.integers(30, 600, len(idx))
    score = np.clip(rng.normal(30 + 55 * e, 15), 0, 100)
    failed = score < passing_by_content[content]
    retake = np.flatnonzero(failed & (rng.random(len(idx)) < 0.5))
    user = np.concatenate([ev["user"][idx], ev["user"][idx][retake]])
    quit = a.enr_quit[np.concatenate([ev["enr"][idx], ev["enr"][idx][retake]])]
    cols = {
        "user": user,
        "course": np.concatenate([ev["course"][idx], ev["course"][idx][retake]]),
        "content": np.concatenate([content, content[retake]]),
        "submitted_at": np.concatenate([submitted, submitted[retake] + rng.integers(DAY, 4 * DAY, len(retake))]),
        "score": np.round(np.concatenate([score, np.clip(score[retake] + rng.normal(8, 8, len(retake)), 0, 100)]) * 2) / 2,
    }
    cols["passing_score"] = passing_by_content[cols["content"]].astype(float)
    keep = (cols["submitted_at"] < end) & (cols["submitted_at"] < quit)
    cols = {k: v[keep] for k, v in cols.items()}
    n = len(cols["user"])
    skill = d.content_skill_id[d.content_skill_ptr[cols["content"]]]
    cols["skill"] = np.where(rng.random(n) < 0.02, -1, skill)
    cols["course"] = np.where(rng.random(n) < 0.02, -1, cols["course"])
    late = rng.random(n) < 0.02
    cols["updated_at"] = cols["submitted_at"] + np.where(late, rng.integers(HOUR, 48 * HOUR, n), rng.integers(1, 120, n))
    order = np.argsort(cols["submitted_at"], kind="stable")
    return {k: v[order] for k, v in cols.items()}


def user_skill_versions(rng, p: Profile, d: Directory, results: dict) -> dict:
    """Declared and assessed user-skill versions (``pair`` = user * skills + skill)."""
    n_l, n_s = d.n_learners, p.skills
    k = np.minimum(rng.poisson(5, n_l), n_s)
    du = np.repeat(np.arange(n_l), k)
    ds = rng.integers(0, n_s, len(du))
    has = results["skill"] >= 0
    au, ask = results["user"][has], results["skill"][has]
    pair = au * n_s + ask
    order = np.lexsort((results["submitted_at"][has], pair))
    pair, score = pair[order], results["score"][has][order]
    starts = np.flatnonzero(np.concatenate([[True], pair[1:] != pair[:-1]])) if len(pair) else pair
    sizes = np.diff(np.concatenate([starts, [len(pair)]]))
    owner = np.repeat(np.arange(len(starts)), sizes)
    csum = np.cumsum(score)
    count = np.arange(len(pair)) - starts[owner] + 1
    mastery = (csum - (csum[starts] - score[starts])[owner]) / count
    return {
        "pair": np.concatenate([du * n_s + ds, pair]),
        "mastery_level": np.concatenate([rng.integers(1, 13, len(du)) * 5.0, np.round(mastery, 1)]),
        "last_assessed_at": np.concatenate([np.full(len(du), NULL_TS), results["submitted_at"][has][order]]),
        "updated_at": np.concatenate([d.user_created[du] + rng.integers(HOUR, DAY, len(du)),
                                      results["updated_at"][has][order] + rng.integers(1, 60, len(pair))]),
    }


def preferences(rng, d: Directory) -> dict:
    """One preferences row per user (codes; see ``generator`` for their labels)."""
    n = len(d.user_org)
    predictive = np.zeros(n, np.int64)
    for bit in range(3):
        predictive |= (rng.random(n) < 0.88).astype(np.int64) << bit
    return {
        "user": np.arange(n),
        "privacy": rng.choice(3, n, p=[0.6, 0.25, 0.15]),
        "predictive": predictive,
        "notifications": rng.integers(0, 4, n),
        "updated_at": d.user_created + rng.integers(60, 20 * DAY, n),
    }
