"""Synthetic learner activity: engagement, drop-out, enrollments and learning events.

Rules (a drop-off model is evaluated against them; see ``generator`` for the summary):
- each learner has a latent engagement ``e ~ Beta(2, 2.2)`` (risk = 1 - e); each enrollment
  has its own ``e' = clip(e + N(0, 0.1), 0, 1)``;
- every enrollment has a **quit instant** (NEVER when the learner does not drop out); after it
  there is no learning event in that course, and activity fades before it (a session is kept
  with probability clip((quit - t) / 14 days, 0.25, 1)):
  - scheduled course (``directory``): the learner drops out with probability
    0.08 + 0.75 (1 - e')^2, at the position ~ Beta(1.1, 3.5) of the run (mostly early);
  - self-paced course: quit = max(enrolled, START) + Exponential(mean 10 + 300 e'^2) days
    (dropping out = going quiet);
  erased learners quit every enrollment a day before their erasure;
- scheduled courses: sessions only from 3 days before the start to the end of the run, and
  walking through the unassessed items only; each deadline item is **submitted** (a session
  whose first event is ``completed`` on the item) unless missed: missed with probability
  0.04 + 0.3 (1 - e')^2 + 0.55 r, where r = clip(1 - (quit - due) / 21 days, 0, 1) rises to 1
  in the three weeks before the learner quits (missed deadlines precede a withdrawal); a
  submission is late (due + 1 h..6 days) with probability 0.08 + 0.3 (1 - e') + 0.3 r, else
  early (due - Exponential(0.5 + 3 e') days); one that would fall after the quit instant, before
  the enrollment or after the run is missed. A submission's progress delta is 60 / K (K
  deadlines), other events count a fifth of theirs in scheduled courses;
- sessions arrive per enrollment as a Poisson process with rate proportional to
  (0.3 + 1.4 e) x platform day factor (quiet weeks x0.35, burst weeks x1.8, weekends ~x0.4),
  at local day-time hours (organisation timezone); 1 + Poisson(2.5 (0.5 + e)) events per
  session, back to back (gaps under 5 minutes), walking through the course's content;
- an enrollment of a self-paced course stops at 100 % progress (its completing event is the
  last one); in a scheduled course the events' progress stops at 99 % (completion = grading).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from analytics_pipeline.sandbox.directory import Directory, csr_pick
from analytics_pipeline.sandbox.profiles import DAY, HOUR, START, Profile
from analytics_pipeline.sandbox.tables import NEVER, NULL_TS

STARTED, PROGRESSED, COMPLETED = 0, 1, 2
EVENT_TYPES = ["started", "progressed", "completed"]
DOW_FACTOR = np.array([1.0, 1.0, 1.0, 0.95, 0.85, 0.45, 0.4])  # Monday first
# local hour-of-day profile: morning and evening peaks
HOUR_P = np.array([1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 12, 10, 8, 9, 10, 9, 8, 8, 9, 11, 12,
                   9, 5, 2], float)
FADE_DAYS = 14
SCHEDULED_SESSIONS = 0.4  # background session rate of a scheduled enrollment (relative)


@dataclasses.dataclass
class Activity:
    engagement: np.ndarray        # per learner
    erased_users: np.ndarray
    erase_at: np.ndarray
    enr_user: np.ndarray
    enr_course: np.ndarray
    enr_enrolled: np.ndarray
    enr_target: np.ndarray        # NULL_TS = null
    enr_quit: np.ndarray          # per enrollment, epoch seconds (NEVER = no drop-out)
    enr_submitted: np.ndarray     # per enrollment: deadlines passed by the run's end that were submitted
    enr_deadlines: np.ndarray     # per enrollment: deadlines of its course (0 = self-paced)
    ev: dict                      # event columns, sorted by (enrollment, occurred_at)


def day_factors(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Platform-wide activity factor per day: weekly bursts / quiet weeks x day of week."""
    n_weeks = n_days // 7 + 1
    week = rng.choice([0.35, 1.0, 1.0, 1.0, 1.8], n_weeks)
    week[1:3] = np.array([0.35, 1.8])[:len(week[1:3])]  # at least one quiet and one burst week
    days = np.arange(n_days)
    return week[days // 7] * DOW_FACTOR[days % 7]


def build_enrollments(rng, p: Profile, d: Directory):
    """Enrollments (user, course, enrolled_at, target) sorted by enrolled_at.

    In a scheduled course most learners register up to 3 weeks before the start, a fifth up to
    10 days after it; the target is the end of the run."""
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
    span, n = p.timeline_days * DAY, len(user)
    enrolled = np.where(rng.random(n) < 0.35, START - rng.integers(HOUR, 28 * DAY, n),
                        START + rng.integers(0, span - 5 * DAY, n))
    sched = d.course_scheduled[course]
    starts, ends = d.course_starts[course], d.course_ends[course]
    on_time = rng.random(n) < 0.8
    registered = np.where(on_time, starts - rng.integers(HOUR, 21 * DAY, n), starts + rng.integers(HOUR, 10 * DAY, n))
    enrolled = np.where(sched, registered, enrolled)
    enrolled = np.maximum(enrolled, d.user_created[user] + rng.integers(HOUR, 3 * DAY, n))
    keep = (enrolled < START + span - DAY) & (~sched | (enrolled < ends - 7 * DAY))
    user, course, enrolled, sched, ends = user[keep], course[keep], enrolled[keep], sched[keep], ends[keep]
    weeks = d.course_weeks[course]
    weeks = np.where(weeks > 0, weeks, rng.integers(4, 13, len(user)))
    target = enrolled + (weeks * 7 * DAY * rng.uniform(0.8, 1.5, len(user))).astype(np.int64)
    null_target = (rng.random(len(user)) < 0.25) | ((d.course_weeks[course] < 0) & (rng.random(len(user)) < 0.5))
    target = np.where(null_target, NULL_TS, target)
    target = np.where(sched, ends, target)
    order = np.argsort(enrolled, kind="stable")
    return user[order], course[order], enrolled[order], target[order]


def group_offsets(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner of each expanded item, index of the item inside its group)."""
    owner = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return owner, np.arange(int(sizes.sum())) - starts[owner]


def quit_instants(rng, d: Directory, engagement, enr_user, enr_course, enrolled) -> tuple[np.ndarray, np.ndarray]:
    """(per-enrollment engagement e', quit instant or NEVER) -- module docstring."""
    n = len(enr_user)
    ee = np.clip(engagement[enr_user] + rng.normal(0, 0.1, n), 0, 1)
    sched = d.course_scheduled[enr_course]
    starts, ends = d.course_starts[enr_course], d.course_ends[enr_course]
    drops = rng.random(n) < 0.08 + 0.75 * (1 - ee) ** 2
    at = rng.beta(1.1, 3.5, n)
    run_quit = np.where(drops, starts + (at * (ends - starts)).astype(np.int64), NEVER)
    paced_quit = np.maximum(enrolled, START) + (rng.exponential(10 + 300 * ee ** 2) * DAY).astype(np.int64)
    return ee, np.where(sched, run_quit, paced_quit)


def deadline_submissions(rng, d: Directory, enr_course, enrolled, ee, quit, end):
    """Submission sessions of the scheduled enrollments: (enrollment, instant, item) of each
    submitted deadline, and per enrollment the count submitted and the deadlines of its course."""
    dl_item = np.flatnonzero(d.content_due != NULL_TS)  # grouped by course (content order)
    n_c = len(d.course_org)
    dl_ptr = np.concatenate([[0], np.cumsum(np.bincount(d.content_course[dl_item], minlength=n_c))])
    per_enr = dl_ptr[enr_course + 1] - dl_ptr[enr_course]
    pe, k = group_offsets(per_enr)
    item = dl_item[dl_ptr[enr_course[pe]] + k]
    due = d.content_due[item]
    m = len(pe)
    e, q = ee[pe], quit[pe]
    ramp = np.clip(1 - (q - due) / (21 * DAY), 0, 1)
    missed = rng.random(m) < 0.04 + 0.3 * (1 - e) ** 2 + 0.55 * ramp
    late = rng.random(m) < 0.08 + 0.3 * (1 - e) + 0.3 * ramp
    at = np.where(late, due + rng.integers(HOUR, 6 * DAY, m),
                  due - (rng.exponential(0.5 + 3 * e, m) * DAY).astype(np.int64))
    run_end = d.course_ends[enr_course[pe]]
    ok = ~missed & (at < q) & (at > enrolled[pe]) & (at >= START) & (at < run_end) & (at < end)
    submitted = np.bincount(pe[ok], minlength=len(enr_course))
    return pe[ok], at[ok], item[ok], submitted, per_enr


def build_activity(rng: np.random.Generator, p: Profile, d: Directory) -> Activity:
    n_l, end = d.n_learners, START + p.timeline_days * DAY
    engagement = rng.beta(2.0, 2.2, n_l)
    enr_user, enr_course, enrolled, target = build_enrollments(rng, p, d)
    ee, quit = quit_instants(rng, d, engagement, enr_user, enr_course, enrolled)
    first_enroll = np.full(n_l, NEVER)
    np.minimum.at(first_enroll, enr_user, enrolled)
    # erased learners: established ones, spread over the timeline (the last in the future)
    candidates = np.flatnonzero((d.user_created[:n_l] < START) & (first_enroll < NEVER))
    erased = np.sort(rng.choice(candidates, min(p.erased_users, len(candidates)), replace=False))
    erase_days = np.linspace(0.3 * p.days, p.days + 0.5 * p.future_days, len(erased))
    erase_at = START + (erase_days * DAY).astype(np.int64) + 12 * HOUR
    erase_of = np.full(n_l, NEVER)
    erase_of[erased] = erase_at - DAY
    quit = np.minimum(quit, erase_of[enr_user])

    # sessions: thinned Poisson process over each enrollment's window [lo, hi)
    factors = day_factors(rng, p.timeline_days)
    cum = np.concatenate([[0.0], np.cumsum(factors)])
    grid = np.arange(p.timeline_days + 1, dtype=float)
    e = engagement[enr_user]
    sched = d.course_scheduled[enr_course]
    opens = np.where(sched, d.course_starts[enr_course] - 3 * DAY, enrolled)
    closes = np.where(sched, d.course_ends[enr_course], end)
    lo = (np.clip(np.maximum(enrolled, opens), START, end) - START) / DAY
    hi = np.maximum((np.clip(np.minimum(quit, closes), START, end) - START) / DAY, lo)
    mass = np.interp(hi, grid, cum) - np.interp(lo, grid, cum)
    rate, per_session = 0.3 + 1.4 * e, 1 + 2.5 * (0.5 + e)
    wanted = p.events_per_learner * n_l * p.timeline_days / p.days  # per visible history
    base = 1.6 * wanted / max((rate * mass * per_session).sum(), 1e-9)
    # scheduled enrollments are not cut at 100 % progress and get submission sessions on top:
    # fewer background sessions keep the platform's event volume where the profile puts it
    n_sess = rng.poisson(base * rate * mass * np.where(sched, SCHEDULED_SESSIONS, 1.0))
    s_enr = np.repeat(np.arange(len(enr_user)), n_sess)
    u = np.interp(lo[s_enr], grid, cum) + rng.random(len(s_enr)) * mass[s_enr]
    day = np.floor(np.interp(u, cum, grid))
    local_hour = rng.choice(24, len(s_enr), p=HOUR_P / HOUR_P.sum()) + rng.random(len(s_enr))
    utc_hour = local_hour - d.org_utc_offset[np.maximum(d.user_org[enr_user[s_enr]], 0)]
    s_start = START + (day * DAY + utc_hour * HOUR).astype(np.int64)
    s_quit = quit[s_enr]
    fade = np.clip((s_quit - s_start) / (FADE_DAYS * DAY), 0.25, 1.0)
    keep = ((s_start >= enrolled[s_enr]) & (s_start >= opens[s_enr]) & (s_start < s_quit) & (s_start < closes[s_enr])
            & (s_start < end) & (rng.random(len(s_enr)) < fade))
    s_enr, s_start = s_enr[keep], s_start[keep]
    sub_enr, sub_at, sub_item, submitted, deadlines = deadline_submissions(rng, d, enr_course, enrolled, ee, quit, end)
    s_item = np.concatenate([np.full(len(s_enr), -1), sub_item])
    s_enr, s_start = np.concatenate([s_enr, sub_enr]), np.concatenate([s_start, sub_at])
    ev = build_events(rng, d, enr_user, enr_course, engagement, s_enr, s_start, s_item, end)
    return Activity(engagement, erased, erase_at, enr_user, enr_course, enrolled, target, quit,
                    submitted, deadlines, ev)


def _filter(cols: dict, index) -> None:
    """Apply a mask or permutation to every column in place (each old array is freed as soon as
    it is replaced, so only one extra column is alive at a time)."""
    for key in list(cols):
        cols[key] = cols[key][index]


def build_events(rng, d: Directory, enr_user, enr_course, engagement, s_enr, s_start, s_item, end) -> dict:
    """Events of each session, then truncated at 100 % course progress.

    A session with ``s_item >= 0`` is a deadline submission: its first event is ``completed``
    on that item (column ``sub``). Memory: at L this handles ~15 M candidate events; temporaries
    are deleted as soon as they are used and columns are filtered in place.
    """
    n_ev_s = 1 + rng.poisson(2.5 * (0.5 + engagement[enr_user[s_enr]]))
    sess, j = group_offsets(n_ev_s)
    enr = s_enr[sess]
    course = enr_course[enr]
    n_items = d.course_content_ptr[course + 1] - d.course_content_ptr[course]
    first_item = rng.integers(0, 1 << 30, len(s_enr))[sess]
    content = d.course_content_ptr[course] + (first_item + j) % d.course_walk[course]
    sub = (j == 0) & (s_item[sess] >= 0)
    content[sub] = s_item[sess[sub]]
    scale = np.where(d.course_scheduled[course], 0.2, 1.0)
    n_dl = np.bincount(d.content_course[d.content_due != NULL_TS], minlength=len(d.course_org))[course]
    del course, first_item, j
    ctype = d.content_type[content]
    n = len(sess)
    etype = rng.choice(3, n, p=[0.35, 0.35, 0.30])
    etype[sub] = COMPLETED
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
                      [50.0 / n_items * rng.uniform(0.7, 1.3, n), rng.uniform(0.1, 1.0, n)], 0.0) * scale
    delta[sub] = 60.0 / n_dl[sub] * rng.uniform(0.9, 1.1, int(sub.sum()))
    del n_items, scale, n_dl
    order = np.lexsort((occurred, enr))
    cols = {"enr": enr, "content": content, "ctype": ctype, "etype": etype, "occurred": occurred,
            "duration": duration, "delta": delta, "sub": sub}
    del enr, content, ctype, etype, occurred, duration, delta, sub
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
    # scheduled courses complete by grading at the run's end: progress from events stays under 100
    capped = d.course_scheduled[enr_course[enr]]
    before = np.minimum(progress[capped] - delta[capped], 99.0)
    progress[capped] = np.minimum(progress[capped], 99.0)
    delta[capped] = progress[capped] - before
    del capped, before
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
