"""Synthetic directory: organisations, users and roles, skills, courses and content.

All arrays are indexed by entity number (the id number). Vectorised numpy, except loops
over courses (a few hundred at most).

Scheduled courses (contract 1.1): 40 % of the courses (at least two) run once, 4-8 weeks
(``expected_weeks``), their starts staggered over the timeline (so at the sandbox's "now" some
runs are over and some are in progress); their assessed items (quiz, exercise, project) have a
``due_at`` spread evenly over the run (22:00 UTC, the last one 2 days before its end) and a
``weight`` (quiz 1 : exercise 2 : project 3, summing to 100 per course). Self-paced courses have
neither. Inside a course the unassessed items (video, reading) come first.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from analytics_pipeline.sandbox.profiles import DAY, HOUR, START, Profile
from analytics_pipeline.sandbox.tables import NULL_TS

LEARNER, TRAINER, ORG_ADMIN, PLATFORM_ADMIN = 1, 2, 4, 8
ROLE_NAMES = ["learner", "trainer", "org_admin", "platform_admin"]
CONTENT_TYPES = ["video", "reading", "quiz", "exercise", "project"]
CONTENT_TYPE_P = [0.3, 0.2, 0.2, 0.2, 0.1]
# (min, max) minutes of each content type
CONTENT_MINUTES = np.array([[5, 30], [5, 20], [5, 15], [15, 60], [60, 240]])
ASSESSED_TYPES = 2  # content types >= this (quiz, exercise, project) are assessed
WEIGHT_BY_TYPE = np.array([0.0, 0.0, 1.0, 2.0, 3.0])
SCHEDULED_SHARE = 0.4
TIMEZONES = [("Europe/Paris", 1), ("America/New_York", -5), ("Asia/Tokyo", 9),
             ("America/Los_Angeles", -8), ("Asia/Kolkata", 5.5), ("UTC", 0)]
SKILL_DOMAINS = ["programming", "data", "design", "management", "communication", None]
SKILL_TOPICS = ["Python", "SQL", "Statistics", "UX research", "Leadership", "Negotiation",
                "Cloud", "Security", "Testing", "Writing", "Excel", "Machine learning",
                "Agile", "Accessibility", "Public speaking", "Finance", "Git", "Docker"]
ORG_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark",
             "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Oscorp", "Aperture"]


@dataclasses.dataclass
class Directory:
    """Entities that change rarely; arrays indexed by entity number."""

    org_size: np.ndarray          # learners per organisation
    org_settings: list            # dict or None per organisation
    org_utc_offset: np.ndarray    # hours, from the settings' timezone (0 without)
    org_has_domain: np.ndarray
    org_created: np.ndarray
    user_org: np.ndarray          # -1 = no organisation
    user_roles: np.ndarray        # bit mask of LEARNER/TRAINER/ORG_ADMIN/PLATFORM_ADMIN
    user_created: np.ndarray
    n_learners: int               # users [0, n_learners) are the learners
    skill_domain: np.ndarray
    skill_level: np.ndarray       # 0..2 or 3 = null
    skill_updated: np.ndarray
    course_org: np.ndarray
    course_trainer: np.ndarray
    course_weeks: np.ndarray      # -1 = null
    course_created: np.ndarray
    course_skill_ptr: np.ndarray  # CSR over course_skill_id / course_skill_target
    course_skill_id: np.ndarray
    course_skill_target: np.ndarray
    content_course: np.ndarray    # content items grouped by course
    content_type: np.ndarray
    content_minutes: np.ndarray   # NaN = null
    content_skill_ptr: np.ndarray  # CSR over content_skill_id
    content_skill_id: np.ndarray
    content_updated: np.ndarray
    course_content_ptr: np.ndarray  # course -> range of its content items
    course_starts: np.ndarray     # scheduled run start (NULL_TS = self-paced)
    course_ends: np.ndarray       # scheduled run end (NULL_TS = self-paced)
    course_walk: np.ndarray       # items a session walks through: the unassessed ones (scheduled), else all
    content_due: np.ndarray       # deadline (NULL_TS = none)
    content_weight: np.ndarray    # share of the course grade (NaN = ungraded)

    @property
    def course_scheduled(self) -> np.ndarray:
        return self.course_starts != NULL_TS


def org_sizes(rng: np.random.Generator, learners: int, n_orgs: int) -> np.ndarray:
    """Zipf-like sizes; about a tenth of the organisations (at least 2) have 3-9 learners."""
    n_small = max(2, n_orgs // 10)
    small = rng.integers(3, 10, n_small)
    rest = learners - int(small.sum())
    weights = 1.0 / np.arange(1, n_orgs - n_small + 1) ** 1.1
    big = np.maximum(np.floor(weights / weights.sum() * rest), 10).astype(np.int64)
    big[0] += rest - big.sum()
    if big[0] < 10:
        raise ValueError("too few learners for this many organisations")
    return np.concatenate([big, small])


def csr_pick(rng, ptr: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """For each ``owner`` pick one position uniformly inside its CSR range (-1 if empty)."""
    lo, n = ptr[owner], ptr[owner + 1] - ptr[owner]
    pick = lo + np.floor(rng.random(len(owner)) * np.maximum(n, 1)).astype(np.int64)
    return np.where(n > 0, pick, -1)


def build_directory(rng: np.random.Generator, p: Profile) -> Directory:
    sizes = org_sizes(rng, p.learners, p.organizations)
    n_org = len(sizes)
    tz_pick = rng.integers(0, len(TIMEZONES), n_org)
    settings_kind = rng.choice(4, n_org, p=[0.2, 0.1, 0.5, 0.2])  # null, {}, tz, tz+locale
    settings, offsets = [], np.zeros(n_org)
    for o in range(n_org):
        tz_name, off = TIMEZONES[tz_pick[o]]
        kind = settings_kind[o]
        settings.append(None if kind == 0 else {} if kind == 1 else
                        {"timezone": tz_name} if kind == 2 else
                        {"timezone": tz_name, "locale": "en", "weekStart": "monday"})
        offsets[o] = off if kind >= 2 else 0
    org_created = START - rng.integers(400, 900, n_org) * DAY

    # learners (shuffled over organisations), then staff, then two platform admins
    learner_org = rng.permutation(np.repeat(np.arange(n_org), sizes))
    trainers = np.maximum(1, sizes // 30)
    staff_org = np.concatenate([np.repeat(np.arange(n_org), trainers), np.arange(n_org)])
    staff_roles = np.concatenate([np.full(trainers.sum(), TRAINER), np.full(n_org, ORG_ADMIN)])
    staff_roles = staff_roles | np.where(rng.random(len(staff_roles)) < 0.15,
                                         np.where(staff_roles == TRAINER, LEARNER, TRAINER), 0)
    user_org = np.concatenate([learner_org, staff_org, [-1, -1]])
    roles = np.concatenate([np.full(p.learners, LEARNER), staff_roles,
                            [PLATFORM_ADMIN, PLATFORM_ADMIN]])
    n_users = len(user_org)
    late_signup = rng.random(n_users) < 0.15
    late_signup[p.learners:] = False
    created = np.where(late_signup,
                       START + rng.integers(0, max(1, p.timeline_days - 7) * DAY, n_users),
                       START - rng.integers(DAY, 400 * DAY, n_users))

    skill_domain = rng.integers(0, len(SKILL_DOMAINS), p.skills)
    skill_level = rng.choice(4, p.skills, p=[0.35, 0.35, 0.2, 0.1])
    skill_updated = START - rng.integers(30 * DAY, 400 * DAY, p.skills)

    # courses: 70 % owned by an organisation (weighted by size), taught by its trainer
    course_org = np.where(rng.random(p.courses) < 0.7,
                          rng.choice(n_org, p.courses, p=sizes / sizes.sum()), -1)
    trainer_ids = p.learners + np.flatnonzero(staff_roles & TRAINER)
    trainer_org = user_org[trainer_ids]
    course_trainer = np.full(p.courses, -1)
    for c in range(p.courses):
        pool = trainer_ids[trainer_org == course_org[c]] if course_org[c] >= 0 else trainer_ids
        if len(pool) and rng.random() > 0.1:
            course_trainer[c] = pool[rng.integers(len(pool))]
    course_weeks = np.where(rng.random(p.courses) < 0.15, -1, rng.integers(3, 13, p.courses))
    course_created = START - rng.integers(60 * DAY, 500 * DAY, p.courses)
    n_cs = rng.integers(1, min(4, p.skills) + 1, p.courses)
    cs_ptr = np.concatenate([[0], np.cumsum(n_cs)])
    cs_id = np.concatenate([rng.choice(p.skills, k, replace=False) for k in n_cs])
    cs_target = rng.integers(8, 20, len(cs_id)) * 5

    # scheduled runs: a share of the courses, starts stratified over the timeline
    n_sched = min(p.courses, max(2, int(round(SCHEDULED_SHARE * p.courses))))
    sched = np.zeros(p.courses, bool)
    sched[rng.permutation(p.courses)[:n_sched]] = True
    course_weeks = np.where(sched, rng.integers(4, 9, p.courses), course_weeks)
    if not sched.all() and not (course_weeks < 0).any():
        course_weeks[np.flatnonzero(~sched)[0]] = -1  # the contract's null expected_weeks stays served
    rank = np.empty(n_sched, np.int64)
    rank[rng.permutation(n_sched)] = np.arange(n_sched)
    spread = max(p.timeline_days - 35, 1)
    start_day = 1 + (rank + rng.random(n_sched)) / n_sched * spread
    starts = np.full(p.courses, NULL_TS)
    starts[sched] = START + (np.floor(start_day) * DAY).astype(np.int64)
    ends = np.where(sched, starts + course_weeks * 7 * DAY, NULL_TS)

    # content items: 5-20 per course, all five types, 1-2 of the course's skills each;
    # each course has an unassessed first item and an assessed last one, unassessed ones first
    n_items = rng.integers(5, 21, p.courses)
    cc_ptr = np.concatenate([[0], np.cumsum(n_items)])
    content_course = np.repeat(np.arange(p.courses), n_items)
    n_content = len(content_course)
    ctype = rng.choice(5, n_content, p=CONTENT_TYPE_P)
    ctype[cc_ptr[:-1]] = rng.integers(0, ASSESSED_TYPES, p.courses)
    ctype[cc_ptr[1:] - 1] = rng.integers(ASSESSED_TYPES, 5, p.courses)
    ctype[:5] = np.arange(5)
    assessed = ctype >= ASSESSED_TYPES
    ctype = ctype[np.lexsort((assessed, content_course))]
    assessed = ctype >= ASSESSED_TYPES
    n_plain = np.bincount(content_course, weights=~assessed, minlength=p.courses).astype(np.int64)
    walk = np.where(sched, n_plain, n_items)
    # deadlines: the k-th of K assessed items of a scheduled course is due at (k+1)/K of the run
    dl = assessed & sched[content_course]
    n_dl = np.bincount(content_course[dl], minlength=p.courses)
    k = np.flatnonzero(dl) - cc_ptr[content_course[dl]] - n_plain[content_course[dl]]
    c_dl = content_course[dl]
    due_day = ((k + 1) / n_dl[c_dl] * (course_weeks[c_dl] * 7 - 2)).astype(np.int64)
    due = np.full(n_content, NULL_TS)
    due[dl] = starts[c_dl] + due_day * DAY - 2 * HOUR
    weight = np.full(n_content, np.nan)
    w = WEIGHT_BY_TYPE[ctype[dl]]
    weight[dl] = np.round(100 * w / np.bincount(c_dl, weights=w, minlength=p.courses)[c_dl], 1)
    lo, hi = CONTENT_MINUTES[ctype, 0], CONTENT_MINUTES[ctype, 1]
    minutes = np.round(lo + rng.random(n_content) * (hi - lo))
    minutes[rng.random(n_content) < 0.05] = np.nan
    first = cs_id[csr_pick(rng, cs_ptr, content_course)]
    second = cs_id[csr_pick(rng, cs_ptr, content_course)]
    two = (rng.random(n_content) < 0.3) & (second != first)
    ksk = 1 + two.astype(np.int64)
    ck_ptr = np.concatenate([[0], np.cumsum(ksk)])
    ck_id = np.empty(ck_ptr[-1], np.int64)
    ck_id[ck_ptr[:-1]] = first
    ck_id[ck_ptr[:-1][two] + 1] = second[two]
    content_updated = course_created[content_course] + rng.integers(HOUR, 30 * DAY, n_content)

    return Directory(sizes, settings, offsets, rng.random(n_org) > 0.2, org_created,
                     user_org, roles, created, p.learners, skill_domain, skill_level,
                     skill_updated, course_org, course_trainer, course_weeks, course_created,
                     cs_ptr, cs_id, cs_target, content_course, ctype, minutes, ck_ptr, ck_id,
                     content_updated, cc_ptr, starts, ends, walk, due, weight)
