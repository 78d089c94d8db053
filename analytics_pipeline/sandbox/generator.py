"""Deterministic synthetic LMS platform behind the sandbox server.

``Platform(profile, seed)`` generates the whole timeline up front with a numpy Generator
(``days`` of visible history plus ``future_days`` hidden), vectorised, as numpy columns.
A simulated clock ``now`` starts at START + days; rows whose ``updated_at`` is later are
not served, so ``advance(days)`` just moves ``now`` and the next days' rows appear (new
events, newer enrollment / user-skill versions, sometimes a deletion).

Realism, and the rules a predictive model is evaluated on (details in ``activity`` and
``outcomes``):
- organisations have Zipf-like sizes, with at least two of 3-9 learners; some settings
  carry a ``timezone`` that shifts their learners' active hours;
- users: learners, trainers and org admins per organisation, two platform admins;
- **scheduled courses** (contract 1.1): 40 % of the courses run once for 4-8 weeks
  (``starts_at``/``ends_at``, starts staggered over the timeline); their quizzes, exercises and
  projects have a ``due_at`` spread over the run and a ``weight``; the other courses are
  self-paced (no run, no deadlines);
- **drop-out rule** (per enrollment): each learner has a latent engagement e ~ Beta(2, 2.2)
  (risk = 1 - e). In a scheduled course the learner drops out with probability
  0.08 + 0.75 (1 - e)^2, mostly early in the run (position ~ Beta(1.1, 3.5)); deadlines are
  submitted around the due date (some late), missed more often by low-engagement learners and
  much more often in the three weeks before they quit; activity fades over the 14 days before
  it and stops after it. 75 % of those drop-outs are withdrawn (``withdrawn_at`` 1-14 days after
  their last activity, before the run's end); the other enrollments are completed (graded, pass
  or fail, as OULAD's final results) at the run's end. In a self-paced course dropping out is going quiet
  (quit after Exponential(mean 10 + 300 e^2) days); 40 % of them are withdrawn the same way.
  ``ground_truth()`` returns engagement, course kind and quit instant per enrollment;
- weekly bursts / quiet weeks and weekend dips; ~3 % of events arrive late (updated_at
  1-72 h after occurred_at); enrollments stop at 100 % progress;
- some assessment results fail; a couple of learners are erased (deletions for their user,
  preferences, enrollments, user skills, results and events), withdrawn enrollments are
  sometimes deleted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics_pipeline.sandbox import directory as dirs
from analytics_pipeline.sandbox.activity import EVENT_TYPES, build_activity
from analytics_pipeline.sandbox.outcomes import (STATUSES, assessment_results, enrollment_versions,
                                                 preferences, user_skill_versions)
from analytics_pipeline.sandbox.profiles import DAY, START, Profile, resolve_profile
from analytics_pipeline.sandbox.tables import (NEVER, Field, IdFormat, Table, cat_field, id_field,
                                               num_field, int_field, obj_field, ts_field)

ORG_ID, USER_ID, COURSE_ID = IdFormat("org-", 4), IdFormat("usr_", 7), IdFormat("", 0, uuid_like=True)
ENROLLMENT_ID, SKILL_ID, CONTENT_ID = IdFormat("enr-", 9), IdFormat("sk-", 4), IdFormat("cnt-", 6)
RESULT_ID, ASSESSMENT_ID, EVENT_ID = IdFormat("ar-", 9), IdFormat("asm-", 6), IdFormat("ev-", 10)
FIRST = ["Ada", "Alan", "Grace", "Linus", "Marie", "Nikola", "Rosa", "Tim", "Emmy", "Kofi",
         "Mei", "Olu", "Ines", "Raj", "Sofia", "Yuki"]
LAST = ["Lovelace", "Turing", "Hopper", "Curie", "Tesla", "Parks", "Noether", "Annan", "Okafor",
        "Garcia", "Tanaka", "Singh", "Muller", "Rossi", "Silva", "Kim"]
PRIVACY = ["public", "anonymous", "hidden"]
PREDICTIVE = [{"dropOffRisk": bool(c & 1), "forecasting": bool(c & 2), "recommendations": bool(c & 4)}
              for c in range(8)]
NOTIFICATIONS = [None, {"email": True, "push": False}, {"email": True, "push": True, "digest": "weekly"},
                 {"email": False, "push": False}]
ROLE_LISTS = [[n for b, n in enumerate(dirs.ROLE_NAMES) if m >> b & 1] for m in range(16)]
SKILL_LEVELS = ["beginner", "intermediate", "advanced", None]


def user_skill_id(pairs: np.ndarray, n_skills: int) -> list[str]:
    return [f"{u}:{s}" for u, s in zip(USER_ID(pairs // n_skills), SKILL_ID(pairs % n_skills))]


def user_fields() -> list[Field]:
    def email(page):
        return [f"{FIRST[f].lower()}.{LAST[la].lower()}{n}@{dom}" for f, la, n, dom in
                zip(page["first"].tolist(), page["last"].tolist(), page["num"].tolist(),
                    page["domain"].tolist())]

    def full_name(page):
        return [None if no else f"{FIRST[f]} {LAST[la]}" for f, la, no in
                zip(page["first"].tolist(), page["last"].tolist(), page["no_name"].tolist())]

    def avatar(page):
        return [f"https://avatars.example.com/{u}.png" if has else None
                for u, has in zip(USER_ID(page["num"]), page["has_avatar"].tolist())]

    return [id_field("id", "num", USER_ID), Field("email", email, "obj", True),
            Field("full_name", full_name), Field("avatar_url", avatar),
            id_field("organization_id", "org", ORG_ID, nullable=True),
            cat_field("roles", "roles", ROLE_LISTS), ts_field("created_at", "created_at"),
            ts_field("updated_at", "updated_at")]


class Platform:
    """The generated platform: one ``Table`` per resource and a simulated clock."""

    def __init__(self, profile: str | Profile = "XS", seed: int = 42):
        self.profile, self.seed = resolve_profile(profile), seed
        rng = np.random.default_rng(seed)
        p = self.profile
        d = dirs.build_directory(rng, p)
        a = build_activity(rng, p, d)
        self.start, self.now = START, START + p.days * DAY
        self.end = START + p.timeline_days * DAY
        self._truth = (a.engagement[a.enr_user], a.enr_user, a.enr_course, d.course_scheduled[a.enr_course],
                       a.enr_quit, a.enr_deadlines, a.enr_submitted)
        erase_of = np.full(len(d.user_org), NEVER)
        erase_of[a.erased_users] = a.erase_at
        self.tables: dict[str, Table] = {}
        self._directory_tables(rng, p, d, erase_of)
        self._activity_tables(rng, p, d, a, erase_of)
        self._deletions_table()

    def _add(self, table: Table) -> None:
        self.tables[table.resource] = table

    def _directory_tables(self, rng, p: Profile, d, erase_of) -> None:
        n_org, n_users = len(d.org_size), len(d.user_org)
        names = np.array([f"{dirs.ORG_WORDS[o % len(dirs.ORG_WORDS)]} {['Labs', 'Corp', 'Group', 'Academy'][o // 14 % 4]} {o}"
                          for o in range(n_org)], object)
        domains = np.array([f"{n.split()[0].lower()}{o}.example" if has else None
                            for o, (n, has) in enumerate(zip(names, d.org_has_domain))], object)
        self._add(Table("organizations", [
            id_field("id", "num", ORG_ID), obj_field("name", "name"), obj_field("domain", "domain", False),
            obj_field("settings", "settings", False), ts_field("created_at", "created_at"),
            ts_field("updated_at", "updated_at")],
            {"num": np.arange(n_org), "name": names, "domain": domains,
             "settings": np.array(d.org_settings + [None], object)[:n_org],
             "created_at": d.org_created, "updated_at": d.org_created + rng.integers(60, 30 * DAY, n_org)},
            np.arange(n_org), ORG_ID))
        user_domain = np.where(d.user_org >= 0, domains[np.maximum(d.user_org, 0)], None)
        user_domain = np.where(user_domain == None, "example.com", user_domain)  # noqa: E711
        self._add(Table("users", user_fields(), {
            "num": np.arange(n_users), "first": rng.integers(0, len(FIRST), n_users),
            "last": rng.integers(0, len(LAST), n_users), "no_name": rng.random(n_users) < 0.05,
            "has_avatar": rng.random(n_users) < 0.6, "org": d.user_org, "domain": user_domain,
            "roles": d.user_roles, "created_at": d.user_created,
            "updated_at": d.user_created + rng.integers(1, 3600, n_users)},
            np.arange(n_users), USER_ID, erase_of))
        self._add(Table("skills", [
            id_field("id", "num", SKILL_ID), obj_field("name", "name"),
            cat_field("domain", "domain", dirs.SKILL_DOMAINS, False),
            cat_field("level", "level", SKILL_LEVELS, False), ts_field("updated_at", "updated_at")],
            {"num": np.arange(p.skills), "domain": d.skill_domain, "level": d.skill_level,
             "name": np.array([f"{dirs.SKILL_TOPICS[s % len(dirs.SKILL_TOPICS)]} {s // len(dirs.SKILL_TOPICS) + 1}"
                               for s in range(p.skills)], object), "updated_at": d.skill_updated},
            np.arange(p.skills), SKILL_ID))
        n_c = len(d.course_org)
        skill_names = SKILL_ID(np.arange(p.skills))
        course_skills = np.empty(n_c, object)
        course_skills[:] = [[{"skill_id": skill_names[s], "target_level": float(t)} for s, t in
                             zip(d.course_skill_id[a:b].tolist(), d.course_skill_target[a:b].tolist())]
                            for a, b in zip(d.course_skill_ptr[:-1], d.course_skill_ptr[1:])]
        topics = [dirs.SKILL_TOPICS[s % len(dirs.SKILL_TOPICS)] for s in d.course_skill_id[d.course_skill_ptr[:-1]]]
        self._add(Table("courses", [
            id_field("id", "num", COURSE_ID), obj_field("name", "name"), obj_field("description", "description", False),
            id_field("organization_id", "org", ORG_ID, False, True),
            id_field("trainer_id", "trainer", USER_ID, False, True), int_field("expected_weeks", "weeks", False),
            ts_field("starts_at", "starts_at", False), ts_field("ends_at", "ends_at", False),
            obj_field("skills", "skills", False), ts_field("created_at", "created_at"), ts_field("updated_at", "updated_at")],
            {"num": np.arange(n_c), "name": np.array([f"{t} track {c}" for c, t in enumerate(topics)], object),
             "description": np.array([None if c % 5 == 0 else f"Learn {t} step by step." for c, t in enumerate(topics)], object),
             "org": d.course_org, "trainer": d.course_trainer, "weeks": d.course_weeks, "skills": course_skills,
             "starts_at": d.course_starts, "ends_at": d.course_ends,
             "created_at": d.course_created, "updated_at": d.course_created + rng.integers(60, 7 * DAY, n_c)},
            np.arange(n_c), COURSE_ID))
        n_ct = len(d.content_course)
        skill_lists = np.empty(n_ct, object)
        skill_lists[:] = [[skill_names[s] for s in d.content_skill_id[a:b].tolist()]
                          for a, b in zip(d.content_skill_ptr[:-1], d.content_skill_ptr[1:])]
        self._add(Table("content", [
            id_field("id", "num", CONTENT_ID), id_field("course_id", "course", COURSE_ID),
            obj_field("title", "title", False), cat_field("content_type", "ctype", dirs.CONTENT_TYPES),
            obj_field("skill_ids", "skills", False), num_field("duration_minutes", "minutes", 0, False),
            ts_field("due_at", "due_at", False), num_field("weight", "weight", 1, False, pct=True),
            ts_field("updated_at", "updated_at")],
            {"num": np.arange(n_ct), "course": d.content_course, "ctype": d.content_type,
             "title": np.array([None if i % 17 == 0 else f"{dirs.CONTENT_TYPES[t].title()} {i}"
                                for i, t in enumerate(d.content_type.tolist())], object),
             "skills": skill_lists, "minutes": d.content_minutes, "updated_at": d.content_updated,
             "due_at": d.content_due, "weight": d.content_weight},
            np.arange(n_ct), CONTENT_ID))
        prefs = preferences(rng, d)
        self._add(Table("user-preferences", [
            id_field("user_id", "user", USER_ID), cat_field("leaderboard_privacy", "privacy", PRIVACY),
            cat_field("predictive_enabled", "predictive", PREDICTIVE),
            cat_field("notification_preferences", "notifications", NOTIFICATIONS, False),
            ts_field("updated_at", "updated_at")], prefs, prefs["user"], USER_ID, erase_of))

    def _activity_tables(self, rng, p: Profile, d, a, erase_of) -> None:
        enr = enrollment_versions(rng, p, d, a)
        self._add(Table("enrollments", [
            id_field("id", "enr", ENROLLMENT_ID), id_field("user_id", "user", USER_ID),
            id_field("course_id", "course", COURSE_ID), ts_field("enrolled_at", "enrolled_at"),
            ts_field("target_completion_at", "target_completion_at", False),
            ts_field("completed_at", "completed_at", False), ts_field("withdrawn_at", "withdrawn_at", False),
            num_field("progress_percent", "progress_percent", 1, pct=True), cat_field("status", "status", STATUSES),
            ts_field("updated_at", "updated_at")], enr, enr["enr"], ENROLLMENT_ID, enr.pop("deleted_at")))
        res = assessment_results(rng, p, d, a)
        res["num"] = np.arange(len(res["user"]))
        self._add(Table("assessment-results", [
            id_field("id", "num", RESULT_ID), id_field("user_id", "user", USER_ID),
            id_field("course_id", "course", COURSE_ID, False, True), id_field("assessment_id", "content", ASSESSMENT_ID),
            id_field("skill_id", "skill", SKILL_ID, False, True), num_field("score", "score", 1, pct=True),
            num_field("passing_score", "passing_score", 1, pct=True), ts_field("submitted_at", "submitted_at"),
            ts_field("updated_at", "updated_at")], res, res["num"], RESULT_ID, erase_of[res["user"]]))
        us = user_skill_versions(rng, p, d, res)
        us["user"], us["skill"] = us["pair"] // p.skills, us["pair"] % p.skills
        self._add(Table("user-skills", [
            id_field("user_id", "user", USER_ID), id_field("skill_id", "skill", SKILL_ID),
            num_field("mastery_level", "mastery_level", 1, pct=True),
            ts_field("last_assessed_at", "last_assessed_at", False), ts_field("updated_at", "updated_at")],
            us, us["pair"], lambda pairs: user_skill_id(pairs, p.skills), erase_of[us["user"]]))
        ev = a.ev
        del a.ev  # the only other reference: columns are moved out of ``ev`` one at a time below
        order = np.argsort(ev["updated"], kind="stable")  # event ids follow ingestion order
        names = {"user": "user", "course": "course", "content": "content", "ctype": "ctype", "etype": "etype",
                 "occurred_at": "occurred", "duration": "duration", "delta": "delta", "updated_at": "updated"}
        cols = {new: ev.pop(old)[order] for new, old in names.items()}
        del ev
        cols["num"] = np.arange(len(order))
        del order
        self._add(Table("learning-events", [
            id_field("id", "num", EVENT_ID), id_field("user_id", "user", USER_ID),
            id_field("course_id", "course", COURSE_ID, False), id_field("content_id", "content", CONTENT_ID, False),
            cat_field("content_type", "ctype", dirs.CONTENT_TYPES, False), cat_field("event_type", "etype", EVENT_TYPES),
            ts_field("occurred_at", "occurred_at"), num_field("duration_seconds", "duration", 0, False),
            num_field("progress_delta", "delta", 2, False, pct=True), ts_field("updated_at", "updated_at")],
            cols, cols["num"], EVENT_ID, erase_of[cols["user"]], consume=True))

    def _deletions_table(self) -> None:
        parts = [(name, t.id_format(t.deleted_ids), t.deleted_at) for name, t in self.tables.items()
                 if len(t.deleted_ids)]
        resource = np.array([n for n, ids, _ in parts for _ in ids], object)
        ids = np.array([i for _, ids, _ in parts for i in ids], object)
        updated = np.concatenate([u for _, _, u in parts]) if parts else np.zeros(0, np.int64)
        _, rank = np.unique(np.array([f"{i}\x00{r}" for i, r in zip(ids, resource)], object), return_inverse=True)
        self._add(Table("deletions", [obj_field("resource", "resource"), obj_field("id", "id"),
                                      ts_field("updated_at", "updated_at")],
                        {"resource": resource, "id": ids, "updated_at": updated}, rank.astype(np.int64),
                        lambda r: [str(x) for x in r]))

    def advance(self, days: float = 1) -> int:
        """Move the clock forward; returns the new ``now`` (epoch seconds)."""
        self.now += int(round(days * DAY))
        return self.now

    def state(self) -> dict:
        now = pd.Timestamp(self.now, unit="s", tz="UTC")
        return {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "profile": self.profile.name, "seed": self.seed,
                "counts": {name: t.visible_count(self.now) for name, t in self.tables.items()}}

    def ground_truth(self) -> pd.DataFrame:
        """Per enrollment: the learner's latent engagement, whether the course is scheduled, the
        quit instant of the drop-out rule (NaT = never), the course's deadlines and how many the
        learner submitted."""
        engagement, user, course, scheduled, quit, deadlines, submitted = self._truth
        quit_at = pd.to_datetime(np.where(quit < self.end + 365 * DAY, quit, np.iinfo(np.int64).min), unit="s", utc=True)
        return pd.DataFrame({"user_id": USER_ID(user), "course_id": COURSE_ID(course), "engagement": engagement,
                             "scheduled": scheduled, "quit_at": quit_at, "deadlines": deadlines,
                             "submitted": submitted})
