"""Replay a recorded platform (the OULAD CSVs, ``reference/data/oulad-2013/``) through the contract.

``ReplayPlatform(folder, at)`` turns the recorded module presentations into the contract's
resources, every row stamped with the instant it became known (``updated_at``), so the
server's visibility rule (``updated_at <= now``) serves exactly what the platform knew at
``now``; ``advance(days)`` moves ``now`` like the synthetic sandbox.

Timeline: presentation ``YYYYB`` starts on 1 February of YYYY, ``YYYYJ`` on 1 October
(OULAD's B/J = February/October); OULAD days are relative to that start.

Mapping (contract 1.1):

* one organisation ``ou``; users ``ou-<id_student>`` (role learner, created at their first
  registration);
* presentations -> courses ``<module>-<presentation>``: ``starts_at`` = the start,
  ``ends_at`` = start + ``module_presentation_length`` days, ``expected_weeks``; published
  365 days before the start (the schedule is known in advance), no skills;
* assessments -> content ``asm-<id>``: TMA -> ``project``, CMA and Exam -> ``quiz``;
  ``due_at`` = the end of the due day (an exam without a day: the course's end), ``weight``;
* registrations -> enrollments, in versions: *active* at registration (``target_completion_at``
  = the course's end); *withdrawn* at the unregistration day (a final result "Withdrawn"
  without a day: withdrawn at the course's end); *completed* at the course's end for Pass,
  Distinction and Fail (the run was followed to its end). A version is served only from its
  own instant on, so the outcome of a run that has not ended is never visible.
  ``progress_percent`` = the weight share submitted by the version's instant;
* submissions -> learning events (``event_type`` completed, ``content_id`` the assessment, at
  noon of the submission day, ``progress_delta`` = the assessment's weight share of the
  course). OULAD keeps scores only for learners who did not withdraw, so serving them would
  leak the outcome: no assessment results are served. Skills, user skills, preferences and
  deletions are empty (a sparse platform).

``at``: ``"<presentation>:<fraction>"`` (``2013J:0.25`` = the start of 2013J + 25 % of its
longest module's length, rounded to a day) or an ISO date. ``shift_years`` moves the whole
timeline by whole years (``"auto"``: into the year before today, so the pipeline's daily
partitions, which start in 2025, cover it; the server's default); course ids keep their codes.
"""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pandas as pd

from analytics_pipeline.sandbox.generator import Platform
from analytics_pipeline.sandbox.tables import NULL_TS, Field, Table, obj_field, ts_field

DAY = 86_400
MONTH = {"B": 2, "J": 10}
CONTENT_TYPE = {"TMA": "project", "CMA": "quiz", "Exam": "quiz"}


def presentation_start(code: pd.Series, shift_years: int = 0) -> pd.Series:
    """Epoch seconds of day 0 of each presentation code (``2013B`` -> 2013-02-01, + ``shift_years``)."""
    code = code.astype(str)
    bad = ~code.str.fullmatch(r"\d{4}[BJ]")
    if bad.any():
        raise ValueError(f"unknown presentation code(s) {sorted(code[bad].unique())[:3]}: expected YYYYB or YYYYJ")
    year = (code.str[:4].astype(int) + shift_years).astype(str)
    stamp = pd.to_datetime(year + "-" + code.str[4].map(MONTH).astype(str) + "-01", utc=True)
    return (stamp - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def read_recording(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The five CSVs of an OULAD extract (a clear error when one is missing)."""
    folder = Path(folder)
    names = {"courses": "courses", "assessments": "assessments", "registrations": "studentRegistration",
             "submissions": "studentAssessment", "info": "studentInfo"}
    missing = [f"{n}.csv" for n in names.values() if not (folder / f"{n}.csv").exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not an OULAD extract: missing {', '.join(missing)}")
    return {key: pd.read_csv(folder / f"{name}.csv") for key, name in names.items()}


def replay_instant(at: str, courses: pd.DataFrame, shift_years: int = 0) -> int:
    """Epoch seconds of ``at`` (module docstring), on the timeline shifted by ``shift_years``."""
    if ":" in at:
        code, fraction = at.split(":", 1)
        runs = courses.loc[courses["code_presentation"] == code]
        if runs.empty:
            raise ValueError(f"presentation {code!r} is not in the recording ({sorted(courses['code_presentation'].unique())})")
        share = float(fraction)
        if not 0 <= share <= 2:
            raise ValueError("the fraction of the run must be within 0..2")
        start = int(presentation_start(runs["code_presentation"], shift_years).iloc[0])
        return start + int(round(share * runs["module_presentation_length"].max())) * DAY
    moment = pd.Timestamp(at)
    moment = (moment.tz_localize("UTC") if moment.tzinfo is None else moment) + pd.DateOffset(years=shift_years)
    return int(moment.timestamp())


def current_shift(at: str, courses: pd.DataFrame, today: pd.Timestamp | None = None) -> int:
    """Whole years that move ``at`` into the year before ``today`` (a replay whose clock is current,
    inside the pipeline's daily partitions)."""
    today = (today or pd.Timestamp.now(tz="UTC")).normalize()
    moment = pd.Timestamp(replay_instant(at, courses), unit="s", tz="UTC")
    years = today.year - moment.year
    return years - 1 if moment + pd.DateOffset(years=years) > today - pd.Timedelta(days=1) else years


def _ids(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _table(resource: str, fields: list[Field], columns: dict[str, np.ndarray], ids: np.ndarray, updated: str) -> Table:
    """A table whose rows are identified by the string ids ``ids`` (versions share an id) and
    become visible at the epoch seconds of column ``updated``."""
    uniq, rank = np.unique(ids.astype(str), return_inverse=True)
    cols = {k: np.asarray(v) for k, v in columns.items()}
    cols["updated_at"] = np.asarray(columns[updated], dtype=np.int64)
    return Table(resource, fields, cols, rank.astype(np.int64), lambda r: uniq[r].tolist())


def _ts(values: pd.Series) -> np.ndarray:
    return values.fillna(NULL_TS).astype(np.int64).to_numpy()


def _num_or_none(name: str, col: str) -> Field:
    return Field(name, lambda page: [None if v != v else float(v) for v in page[col].tolist()], "num", False)


class ReplayPlatform(Platform):
    """A recorded platform served at a chosen instant (module docstring)."""

    def __init__(self, folder: str | Path, at: str, shift_years: int | str = 0):  # noqa: D107 - Platform's generator is not run
        rec = read_recording(folder)
        self.shift_years = current_shift(at, rec["courses"]) if shift_years == "auto" else int(shift_years)
        self.profile, self.seed = types.SimpleNamespace(name=f"replay {Path(folder).name}"), 0
        self.now = replay_instant(at, rec["courses"], self.shift_years)
        self.tables = {}
        courses = self._courses(rec["courses"])
        content = self._content(rec["assessments"], courses)
        events = self._events(rec["submissions"], rec["registrations"], content, courses)
        enrollments = self._enrollments(rec["registrations"], rec["info"], courses, events)
        self._users(enrollments)
        for name in ("skills", "user-skills", "assessment-results", "user-preferences"):
            self._add(_table(name, [], {"t": np.zeros(0, np.int64)}, _ids([]), "t"))
        self._deletions_table()
        self.start = int(courses["starts_at"].min())
        self.end = int(courses["ends_at"].max())

    def state(self) -> dict:
        return {**super().state(), "mode": "replay", "shift_years": self.shift_years}

    def _courses(self, c: pd.DataFrame) -> pd.DataFrame:
        c = c.assign(id=c["code_module"] + "-" + c["code_presentation"],
                     starts_at=presentation_start(c["code_presentation"], self.shift_years))
        c["ends_at"] = c["starts_at"] + c["module_presentation_length"].astype(int) * DAY
        c["created_at"] = c["starts_at"] - 365 * DAY
        weeks = np.ceil(c["module_presentation_length"] / 7).astype(int)
        self._add(_table("courses", [
            obj_field("id", "id"), obj_field("name", "name"), obj_field("description", "description", False),
            obj_field("organization_id", "org", False), obj_field("trainer_id", "trainer", False),
            Field("expected_weeks", lambda p: p["weeks"].tolist(), "num", False),
            ts_field("starts_at", "starts_at", False), ts_field("ends_at", "ends_at", False),
            obj_field("skills", "skills", False), ts_field("created_at", "created_at"), ts_field("updated_at", "created_at")],
            {"id": _ids(c["id"]), "name": _ids("Module " + c["code_module"] + " " + c["code_presentation"]),
             "description": _ids([None] * len(c)), "org": _ids(["ou"] * len(c)), "trainer": _ids([None] * len(c)),
             "weeks": weeks.to_numpy(), "starts_at": c["starts_at"].to_numpy(np.int64), "ends_at": c["ends_at"].to_numpy(np.int64),
             "skills": _ids([[] for _ in range(len(c))]), "created_at": c["created_at"].to_numpy(np.int64)},
            _ids(c["id"]), "created_at"))
        first = int(c["created_at"].min()) - DAY
        self._add(_table("organizations", [
            obj_field("id", "id"), obj_field("name", "name"), obj_field("domain", "domain", False),
            obj_field("settings", "settings", False), ts_field("created_at", "t"), ts_field("updated_at", "t")],
            {"id": _ids(["ou"]), "name": _ids(["Open University (OULAD replay)"]), "domain": _ids([None]),
             "settings": _ids([None]), "t": np.array([first], np.int64)}, _ids(["ou"]), "t"))
        return c

    def _content(self, a: pd.DataFrame, courses: pd.DataFrame) -> pd.DataFrame:
        a = a.assign(course_id=a["code_module"] + "-" + a["code_presentation"], id="asm-" + a["id_assessment"].astype(str))
        a = a.merge(courses[["id", "starts_at", "ends_at", "created_at"]].rename(columns={"id": "course_id"}), on="course_id")
        due = a["starts_at"] + (a["date"] + 1) * DAY - 1
        a["due_at"] = due.fillna(a["ends_at"]).astype(np.int64)
        a["share"] = 100.0 * a["weight"] / a.groupby("course_id")["weight"].transform("sum").replace(0, np.nan)
        self._add(_table("content", [
            obj_field("id", "id"), obj_field("course_id", "course_id"), obj_field("title", "title", False),
            obj_field("content_type", "ctype"), obj_field("skill_ids", "skills", False),
            obj_field("duration_minutes", "minutes", False), ts_field("due_at", "due_at", False),
            _num_or_none("weight", "weight"), ts_field("updated_at", "created_at")],
            {"id": _ids(a["id"]), "course_id": _ids(a["course_id"]),
             "title": _ids(a["assessment_type"] + " " + a["id_assessment"].astype(str)),
             "ctype": _ids(a["assessment_type"].map(CONTENT_TYPE)), "skills": _ids([[] for _ in range(len(a))]),
             "minutes": _ids([None] * len(a)), "due_at": a["due_at"].to_numpy(np.int64),
             "weight": a["weight"].astype(float).to_numpy(), "created_at": a["created_at"].to_numpy(np.int64)},
            _ids(a["id"]), "created_at"))
        return a

    def _events(self, s: pd.DataFrame, registrations: pd.DataFrame, content: pd.DataFrame, courses: pd.DataFrame) -> pd.DataFrame:
        s = s.merge(content[["id_assessment", "id", "course_id", "starts_at", "share", "assessment_type"]], on="id_assessment")
        s = s.loc[s["date_submitted"].notna()]
        s = s.assign(user_id="ou-" + s["id_student"].astype(str), content_id=s["id"],
                     occurred_at=(s["starts_at"] + s["date_submitted"].astype(int) * DAY + DAY // 2).astype(np.int64))
        s = s.sort_values(["occurred_at", "user_id", "content_id"]).reset_index(drop=True)
        s["event_id"] = "ev-" + pd.Series(np.arange(len(s)), dtype=str).str.zfill(8)
        delta = s["share"].fillna(0.0).round(2)
        self._add(_table("learning-events", [
            obj_field("id", "event_id"), obj_field("user_id", "user_id"), obj_field("course_id", "course_id", False),
            obj_field("content_id", "content_id", False), obj_field("content_type", "ctype", False),
            obj_field("event_type", "etype"), ts_field("occurred_at", "occurred_at"),
            obj_field("duration_seconds", "duration", False), _num_or_none("progress_delta", "delta"),
            ts_field("updated_at", "occurred_at")],
            {"event_id": _ids(s["event_id"]), "user_id": _ids(s["user_id"]), "course_id": _ids(s["course_id"]),
             "content_id": _ids(s["content_id"]), "ctype": _ids(s["assessment_type"].map(CONTENT_TYPE)),
             "etype": _ids(["completed"] * len(s)), "occurred_at": s["occurred_at"].to_numpy(np.int64),
             "duration": _ids([None] * len(s)), "delta": delta.to_numpy(dtype=float)},
            _ids(s["event_id"]), "occurred_at"))
        return s.assign(progress_delta=delta)

    def _enrollments(self, r: pd.DataFrame, info: pd.DataFrame, courses: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
        key = ["code_module", "code_presentation", "id_student"]
        r = r.merge(info[key + ["final_result"]], on=key, how="left")
        r = r.assign(course_id=r["code_module"] + "-" + r["code_presentation"], user_id="ou-" + r["id_student"].astype(str))
        r = r.merge(courses[["id", "starts_at", "ends_at"]].rename(columns={"id": "course_id"}), on="course_id")
        r["id"] = "enr-" + r["course_id"] + "-" + r["id_student"].astype(str)
        r["enrolled_at"] = (r["starts_at"] + r["date_registration"].fillna(0).astype(int) * DAY).astype(np.int64)
        unreg = r["starts_at"] + r["date_unregistration"] * DAY
        withdrawn = unreg.notna() | (r["final_result"] == "Withdrawn")
        r["withdrawn_at"] = np.where(withdrawn, np.maximum(unreg.fillna(r["ends_at"]), r["enrolled_at"] + 1), np.nan)
        r["completed_at"] = np.where(~withdrawn & r["final_result"].isin(["Pass", "Distinction", "Fail"]), r["ends_at"], np.nan)
        active = r.assign(updated_at=r["enrolled_at"], status="active", withdrawn_at=np.nan, completed_at=np.nan)
        left = r.loc[withdrawn].assign(updated_at=lambda d: d["withdrawn_at"], status="withdrawn")
        done = r.loc[r["completed_at"].notna()].assign(updated_at=lambda d: d["completed_at"], status="completed")
        v = pd.concat([active, left, done], ignore_index=True)
        v["updated_at"] = v["updated_at"].astype(np.int64)
        # progress at each version's instant: the weight share of the learner's submissions by then
        ev = events[["user_id", "course_id", "occurred_at", "progress_delta"]].merge(v[["user_id", "course_id", "updated_at"]].drop_duplicates(), on=["user_id", "course_id"])
        gained = ev.loc[ev["occurred_at"] <= ev["updated_at"]].groupby(["user_id", "course_id", "updated_at"])["progress_delta"].sum()
        v = v.merge(gained.rename("progress").reset_index(), on=["user_id", "course_id", "updated_at"], how="left")
        v["progress"] = v["progress"].fillna(0.0).clip(0.0, 100.0).round(1)
        self._add(_table("enrollments", [
            obj_field("id", "id"), obj_field("user_id", "user_id"), obj_field("course_id", "course_id"),
            ts_field("enrolled_at", "enrolled_at"), ts_field("target_completion_at", "ends_at", False),
            ts_field("completed_at", "completed_at", False), ts_field("withdrawn_at", "withdrawn_at", False),
            Field("progress_percent", lambda p: p["progress"].tolist(), "pct", True), obj_field("status", "status"),
            ts_field("updated_at", "updated_at")],
            {"id": _ids(v["id"]), "user_id": _ids(v["user_id"]), "course_id": _ids(v["course_id"]),
             "enrolled_at": v["enrolled_at"].to_numpy(np.int64), "ends_at": v["ends_at"].to_numpy(np.int64),
             "completed_at": _ts(v["completed_at"]), "withdrawn_at": _ts(v["withdrawn_at"]),
             "progress": v["progress"].to_numpy(dtype=float), "status": _ids(v["status"]),
             "version_at": v["updated_at"].to_numpy(np.int64)},
            _ids(v["id"]), "version_at"))
        return r

    def _users(self, enrollments: pd.DataFrame) -> None:
        u = enrollments.groupby("user_id", as_index=False)["enrolled_at"].min()
        emails = u["user_id"].str.replace("ou-", "student", regex=False) + "@learners.example"
        self._add(_table("users", [
            obj_field("id", "user_id"), obj_field("email", "email"), obj_field("full_name", "none", False),
            obj_field("avatar_url", "none", False), obj_field("organization_id", "org"), obj_field("roles", "roles"),
            ts_field("created_at", "t"), ts_field("updated_at", "t")],
            {"user_id": _ids(u["user_id"]), "email": _ids(emails), "none": _ids([None] * len(u)),
             "org": _ids(["ou"] * len(u)), "roles": _ids([["learner"] for _ in range(len(u))]),
             "t": (u["enrolled_at"] - 60).to_numpy(np.int64)},
            _ids(u["user_id"]), "t"))


