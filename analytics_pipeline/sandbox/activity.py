"""Synthetic learner activity: engagement, drop-off, enrollments and learning events.

Rules (a drop-off model is evaluated against them; see ``generator`` for the summary):
- each learner has a latent engagement ``e ~ Beta(2, 2.2)``;
- drop-off instant = max(first enrollment, START) + Exponential(mean 10 + 300 e^2 days);
  after it the learner has no learning events at all (erased learners stop a day before
  their erasure). Activity fades before it: a session is kept with probability
  clip((dropoff - t) / 14 days, 0.25, 1);
- sessions arrive per enrollment as a Poisson process with rate proportional to
  (0.3 + 1.4 e) x platform day factor (quiet weeks x0.35, burst weeks x1.8, weekends ~x0.4),
  at local day-time hours (organisation timezone); 1 + Poisson(2.5 (0.5 + e)) events per
  session, back to back (gaps under 5 minutes), walking through the course's content;
- an enrollment stops at 100 % progress (its completing event is the last one).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from analytics_pipeline.sandbox.directory import Directory, csr_pick
from analytics_pipeline.sandbox.profiles import DAY, HOUR, START, Profile
from analytics_pipeline.sandbox.tables import NEVER

STARTED, PROGRESSED, COMPLETED = 0, 1, 2
EVENT_TYPES = ["started", "progressed", "completed"]
DOW_FACTOR = np.array([1.0, 1.0, 1.0, 0.95, 0.85, 0.45, 0.4])  # Monday first
# local hour-of-day profile: morning and evening peaks
HOUR_P = np.array([1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 12, 10, 8, 9, 10, 9, 8, 8, 9, 11, 12,
                   9, 5, 2], float)


@dataclasses.dataclass
class Activity:
    engagement: np.ndarray        # per learner
    dropoff_at: np.ndarray        # per learner, epoch seconds (may lie beyond the timeline)
    erased_users: np.ndarray
    erase_at: np.ndarray
    enr_user: np.ndarray
    enr_course: np.ndarray
    enr_enrolled: np.ndarray
    enr_target: np.ndarray        # NULL_TS = null
    ev: dict                      # event columns, sorted by (enrollment, occurred_at)


def day_factors(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Platform-wide activity factor per day: weekly bursts / quiet weeks x day of week."""
    n_weeks = n_days // 7 + 1
    week = rng.choice([0.35, 1.0, 1.0, 1.0, 1.8], n_weeks)
    week[1], week[2] = 0.35, 1.8  # at least one quiet and one burst week
    days = np.arange(n_days)
    return week[days // 7] * DOW_FACTOR[days % 7]


def build_enrollments(rng, p: Profile, d: Directory):
    """Enrollments (user, course, enrolled_at, target) sorted by enrolled_at."""
    n_l = d.n_learners
    k = np.minimum(1 + rng.poisson(max(1.25 * p.enrollments_per_learner - 1, 0), n_l), len(d.course_org))
    user = np.repeat(np.arange(n_l), k)
    owned = np.flatnonzero(d.course_org >= 0)
    owned = owned[np.argsort(d.course_org[owned], kind="stable")]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(d.course_org[owned], minlength=len(d.org_size)))])
    pick = csr_pick(rng, ptr, d.user_org[user])
    public = np.flatnonzero(d.course_org < 0)
    public = public if len(public) else np.arange(len(d.course_org))
    course = np.where((pick >= 0) & (rng.random(len(user)) < 0.6), owned[np.maximum(pick, 0)],
                      public[rng.integers(0, len(public), len(user))])
    _, first = np.unique(user * len(d.course_org) + course, return_index=True)
    user, course = user[first], course[first]
    span = p.timeline_days * DAY
    enrolled = np.where(rng.random(len(user)) < 0.35, START - rng.integers(HOUR, 28 * DAY, len(user)),
                        START + rng.integers(0, span - 5 * DAY, len(user)))
    enrolled = np.maximum(enrolled, d.user_created[user] + rng.integers(HOUR, 3 * DAY, len(user)))
    keep = enrolled < START + span - DAY
    user, course, enrolled = user[keep], course[keep], enrolled[keep]
    weeks = d.course_weeks[course]
    weeks = np.where(weeks > 0, weeks, rng.integers(4, 13, len(user)))
    target = enrolled + (weeks * 7 * DAY * rng.uniform(0.8, 1.5, len(user))).astype(np.int64)
    null_target = (rng.random(len(user)) < 0.25) | ((d.course_weeks[course] < 0) & (rng.random(len(user)) < 0.5))
    target = np.where(null_target, np.iinfo(np.int64).min, target)
    order = np.argsort(enrolled, kind="stable")
    return user[order], course[order], enrolled[order], target[order]


def group_offsets(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner of each expanded item, index of the item inside its group)."""
    owner = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return owner, np.arange(int(sizes.sum())) - starts[owner]


def build_activity(rng: np.random.Generator, p: Profile, d: Directory) -> Activity:
    n_l, end = d.n_learners, START + p.timeline_days * DAY
    engagement = rng.beta(2.0, 2.2, n_l)
    enr_user, enr_course, enrolled, target = build_enrollments(rng, p, d)
    first_enroll = np.full(n_l, NEVER)
    np.minimum.at(first_enroll, enr_user, enrolled)
    dropoff = np.maximum(first_enroll, START) + (
        rng.exponential(10 + 300 * engagement ** 2) * DAY).astype(np.int64)
    # erased learners: established ones, spread over the timeline (the last in the future)
    candidates = np.flatnonzero((d.user_created[:n_l] < START) & (first_enroll < NEVER))
    erased = np.sort(rng.choice(candidates, min(p.erased_users, len(candidates)), replace=False))
    erase_days = np.linspace(0.3 * p.days, p.days + 0.5 * p.future_days, len(erased))
    erase_at = START + (erase_days * DAY).astype(np.int64) + 12 * HOUR
    dropoff[erased] = np.minimum(dropoff[erased], erase_at - DAY)

    # sessions: thinned Poisson process over each enrollment's window [start, stop)
    factors = day_factors(rng, p.timeline_days)
    cum = np.concatenate([[0.0], np.cumsum(factors)])
    grid = np.arange(p.timeline_days + 1, dtype=float)
    e = engagement[enr_user]
    lo = (np.maximum(enrolled, START) - START) / DAY
    hi = np.maximum((np.minimum(dropoff[enr_user], end) - START) / DAY, lo)
    mass = np.interp(hi, grid, cum) - np.interp(lo, grid, cum)
    rate, per_session = 0.3 + 1.4 * e, 1 + 2.5 * (0.5 + e)
    wanted = p.events_per_learner * n_l * p.timeline_days / p.days  # per visible history
    base = 1.6 * wanted / max((rate * mass * per_session).sum(), 1e-9)
    n_sess = rng.poisson(base * rate * mass)
    s_enr = np.repeat(np.arange(len(enr_user)), n_sess)
    u = np.interp(lo[s_enr], grid, cum) + rng.random(len(s_enr)) * mass[s_enr]
    day = np.floor(np.interp(u, cum, grid))
    local_hour = rng.choice(24, len(s_enr), p=HOUR_P / HOUR_P.sum()) + rng.random(len(s_enr))
    utc_hour = local_hour - d.org_utc_offset[np.maximum(d.user_org[enr_user[s_enr]], 0)]
    s_start = START + (day * DAY + utc_hour * HOUR).astype(np.int64)
    s_drop = dropoff[enr_user[s_enr]]
    fade = np.clip((s_drop - s_start) / (14 * DAY), 0.25, 1.0)
    keep = (s_start >= enrolled[s_enr]) & (s_start < s_drop) & (s_start < end) & (rng.random(len(s_enr)) < fade)
    s_enr, s_start = s_enr[keep], s_start[keep]
    return Activity(engagement, dropoff, erased, erase_at, enr_user, enr_course, enrolled,
                    target, build_events(rng, d, enr_user, enr_course, engagement, s_enr, s_start, end))


def _filter(cols: dict, index) -> None:
    """Apply a mask or permutation to every column in place (each old array is freed as soon as
    it is replaced, so only one extra column is alive at a time)."""
    for key in list(cols):
        cols[key] = cols[key][index]


def build_events(rng, d: Directory, enr_user, enr_course, engagement, s_enr, s_start, end) -> dict:
    """Events of each session, then truncated at 100 % course progress.

    Memory: at L this handles ~15 M candidate events; temporaries are deleted as soon as they
    are used and columns are filtered in place (same random draws, same values).
    """
    n_ev_s = 1 + rng.poisson(2.5 * (0.5 + engagement[enr_user[s_enr]]))
    sess, j = group_offsets(n_ev_s)
    enr = s_enr[sess]
    course = enr_course[enr]
    n_items = d.course_content_ptr[course + 1] - d.course_content_ptr[course]
    first_item = rng.integers(0, 1 << 30, len(s_enr))[sess]
    content = d.course_content_ptr[course] + (first_item + j) % n_items
    del course, first_item, j
    ctype = d.content_type[content]
    n = len(sess)
    etype = rng.choice(3, n, p=[0.35, 0.35, 0.30])
    minutes = np.nan_to_num(d.content_minutes[content], nan=10.0)
    duration = np.where(etype == STARTED, rng.integers(5, 120, n),
                        minutes * 60 * rng.uniform(0.3, 1.2, n)).round()
    del minutes
    step = duration + rng.integers(5, 240, n)
    before = np.cumsum(step)
    before -= step
    del step
    offset = before[np.concatenate([[0], np.cumsum(n_ev_s)[:-1]])][sess]
    before -= offset
    del offset
    occurred = s_start[sess] + before.astype(np.int64)
    del before, sess
    delta = np.select([etype == COMPLETED, etype == PROGRESSED],
                      [50.0 / n_items * rng.uniform(0.7, 1.3, n), rng.uniform(0.1, 1.0, n)], 0.0)
    del n_items
    order = np.lexsort((occurred, enr))
    cols = {"enr": enr, "content": content, "ctype": ctype, "etype": etype, "occurred": occurred,
            "duration": duration, "delta": delta}
    del enr, content, ctype, etype, occurred, duration, delta
    _filter(cols, order)
    del order
    _filter(cols, cols["occurred"] < end)

    # progress: cumulative per enrollment, stop at the event that reaches 100 %
    enr, delta = cols["enr"], cols["delta"]
    csum = np.cumsum(delta)
    starts = np.flatnonzero(np.concatenate([[True], enr[1:] != enr[:-1]]))
    owner = np.repeat(np.arange(len(starts)), np.diff(np.concatenate([starts, [len(enr)]])))
    progress = csum - (csum[starts] - delta[starts])[owner]
    del csum
    reached = np.flatnonzero(progress >= 100)
    _, first = np.unique(enr[reached], return_index=True)
    stop = reached[first]
    del reached, first
    cut = np.full(len(starts), len(enr))
    cut[np.searchsorted(enr[starts], enr[stop])] = stop
    keep = np.arange(len(enr)) <= cut[owner]
    del owner, cut, starts
    delta[stop] = 100 - (progress[stop] - delta[stop])
    cols["etype"][stop] = COMPLETED
    progress[stop] = 100.0
    cols["progress"] = progress
    del enr, delta, progress
    _filter(cols, keep)
    del keep
    n = len(cols["enr"])
    cols["duration"] = np.where(rng.random(n) < 0.02, np.nan, cols["duration"])
    cols["delta"] = np.where((cols["etype"] == STARTED) & (rng.random(n) < 0.1), np.nan, cols["delta"])
    late = rng.random(n) < 0.03
    lag = np.where(late, rng.integers(HOUR, 72 * HOUR, n), rng.integers(1, 120, n))
    del late
    lag += cols["occurred"]
    lag += np.nan_to_num(cols["duration"]).astype(np.int64)
    cols["updated"] = lag
    del lag
    cols["user"] = enr_user[cols["enr"]].astype(np.int32)
    cols["course"] = enr_course[cols["enr"]].astype(np.int32)
    small = {"enr": np.int32, "content": np.int32, "ctype": np.int8, "etype": np.int8,
             "duration": np.float32, "delta": np.float32}
    for key, dtype in small.items():
        cols[key] = cols[key].astype(dtype)
    return cols
