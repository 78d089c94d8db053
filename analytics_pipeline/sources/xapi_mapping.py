"""xAPI statements -> warehouse rows: the mapping table, in one place, and its vectorised application.

The tables below say what every known verb and activity type becomes; docs/sources.md lists them
for operators. :func:`map_statements` applies them to a batch of statements with pandas
(``json_normalize`` of the batch, column operations; per-value Python only over the distinct
actors when hashing an identity).

What a statement becomes (``VERBS``):

- ``event``: a row of ``learning_events`` (started / progressed / completed), its id the
  statement id, ``content_id`` the object, ``course_id`` the context's course activity,
  ``content_type`` from the object's activity type (``ACTIVITY_TYPES``), ``duration_seconds``
  from ISO 8601 ``result.duration``, ``progress_delta`` from the progress extensions (cmi5
  ``…/result/extensions/progress`` 0-100, video ``…/video/extensions/progress`` 0-1): the
  extension is the actor's cumulative progress in the object, the delta is its change since
  the actor's previous statement about the same object (the warehouse's earlier rows included:
  the caller passes their sum).
- ``result``: a row of ``assessment_results`` (also ``attempted`` carrying a score, as Open edX
  sends graded problem submissions): score = ``result.score.scaled`` × 100, else
  (raw − min) / (max − min) × 100 (min defaulting to 0); passing score = the cmi5
  ``masteryscore`` context extension × 100, else the configured default.
- ``enrol`` / ``withdraw``: an enrollment signal about a course (used when the LRS supplies the
  rosters); an ``event`` verb whose object is a course is a course-level signal too.
- ``void``: ``http://adlnet.gov/expapi/verbs/voided``: the statement its ``object.id`` names is
  removed from the warehouse.
- ``skip``: a known verb that carries nothing the warehouse keeps (terminated, played, …).

Anything else goes to the quarantine with a reason: an unknown verb, a missing or unidentified
actor, a missing object id, no score on a result, a score outside 0-100, a progress outside its
range, a bad duration, an unparsable ``timestamp``/``stored``, a timestamp before 1990 or more
than a day after the statement was stored.

Identities: an ``account`` whose ``homePage`` is the configured platform URL keeps its ``name``
(the platform's own user id, as in the contract); any other account becomes
``xapi-account:<sha1(homePage|name)>``; ``mbox`` and ``mbox_sha1sum`` both become
``mbox-sha1:<sha1 of the mailto IRI>`` (the same person either way; no address is stored);
``openid`` becomes ``openid:<sha1>``. Activity IRIs under the platform URL become their last
path segment (the contract's ids); others stay whole IRIs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd

ADL = "http://adlnet.gov/expapi/verbs/"
VIDEO = "https://w3id.org/xapi/video/verbs/"
TINCAN = "http://id.tincanapi.com/verb/"
VOIDED = ADL + "voided"

# verb IRI -> (kind, learning event type or None)
VERBS: dict[str, tuple[str, str | None]] = {
    # ADL vocabulary (and cmi5, which uses it)
    ADL + "initialized": ("event", "started"),
    ADL + "launched": ("event", "started"),
    ADL + "attempted": ("event", "started"),  # with a result.score: an assessment result (Open edX)
    ADL + "progressed": ("event", "progressed"),  # cmi5 progress / Open edX completion
    ADL + "completed": ("event", "completed"),
    ADL + "passed": ("result", None),
    ADL + "failed": ("result", None),
    ADL + "scored": ("result", None),
    ADL + "answered": ("result", None),
    ADL + "registered": ("enrol", None),  # Open edX: enrollment activated
    ADL + "terminated": ("skip", None),
    ADL + "exited": ("skip", None),
    ADL + "suspended": ("skip", None),
    ADL + "resumed": ("skip", None),
    ADL + "experienced": ("skip", None),
    ADL + "interacted": ("skip", None),
    VOIDED: ("void", None),
    # cmi5 defined verbs besides ADL's
    "https://w3id.org/xapi/adl/verbs/waived": ("event", "completed"),
    "https://w3id.org/xapi/adl/verbs/satisfied": ("skip", None),
    "https://w3id.org/xapi/adl/verbs/abandoned": ("skip", None),
    # xAPI video profile
    VIDEO + "played": ("skip", None),
    VIDEO + "paused": ("event", "progressed"),  # carries the video progress extension
    VIDEO + "seeked": ("skip", None),
    # Open edX (event-routing-backends)
    TINCAN + "unregistered": ("withdraw", None),  # enrollment deactivated
    "https://w3id.org/xapi/acrossx/verbs/evaluated": ("result", None),  # problem checked (server)
    TINCAN + "earned": ("result", None),  # grade (course / subsection) calculated
    TINCAN + "viewed": ("skip", None),
    "https://w3id.org/xapi/dod-isd/verbs/navigated": ("skip", None),
    "https://w3id.org/xapi/acrossx/verbs/posted": ("skip", None),
}

COURSE = "http://adlnet.gov/expapi/activities/course"
# activity type IRI -> content type of the warehouse (a course is not content: see COURSE)
ACTIVITY_TYPES: dict[str, str] = {
    "https://w3id.org/xapi/video/activity-type/video": "video",
    "http://adlnet.gov/expapi/activities/media": "video",
    "http://adlnet.gov/expapi/activities/lesson": "reading",
    "http://adlnet.gov/expapi/activities/module": "reading",
    "http://id.tincanapi.com/activitytype/document": "reading",
    "http://activitystrea.ms/schema/1.0/page": "reading",
    "http://adlnet.gov/expapi/activities/assessment": "quiz",
    "http://adlnet.gov/expapi/activities/question": "quiz",
    "http://adlnet.gov/expapi/activities/cmi.interaction": "exercise",  # Open edX problems
    "http://adlnet.gov/expapi/activities/interaction": "exercise",
    "http://adlnet.gov/expapi/activities/simulation": "exercise",
    "http://adlnet.gov/expapi/activities/performance": "project",
    "http://id.tincanapi.com/activitytype/project": "project",
}
# context activities whose type names the skill an assessment measures
SKILL_TYPES = ("http://adlnet.gov/expapi/activities/objective", "http://id.tincanapi.com/activitytype/competency")

CMI5_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"  # 0..100
VIDEO_PROGRESS = "https://w3id.org/xapi/video/extensions/progress"  # 0..1
CMI5_MASTERY = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"  # 0..1
EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
FUTURE_SLACK = pd.Timedelta(days=1)
# ISO 8601 duration without years/months (their length is not fixed)
DURATION = r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
DURATION_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}

RESULT_COLUMNS = ["id", "user_id", "course_id", "assessment_id", "skill_id", "score", "passing_score", "submitted_at",
                  "updated_at"]
EVENT_COLUMNS = ["id", "user_id", "course_id", "content_id", "content_type", "event_type", "occurred_at",
                 "duration_seconds", "progress", "updated_at"]


@dataclass
class Mapped:
    """One batch of statements mapped: rows per target, voided ids, quarantine rows and counters."""

    events: pd.DataFrame  # EVENT_COLUMNS; ``progress`` = cumulative progress in the object (the loader makes deltas)
    results: pd.DataFrame  # RESULT_COLUMNS
    enrollments: pd.DataFrame  # user_id, course_id, kind (enrol/withdraw/completed/activity), at, updated_at
    actors: pd.DataFrame  # id, full_name, first_at, updated_at
    activities: pd.DataFrame  # id, course_id, title, content_type, is_course, updated_at
    voided: pd.Series  # statement ids voided by this batch
    rejected: pd.DataFrame  # source_id, reason, payload
    skipped: int  # known verbs that carry nothing for the warehouse
    already_loaded: int  # statements stored at or before ``after`` (dropped: read again by an overlap)
    latest_stored: pd.Timestamp | None  # over the statements whose ``stored`` parses


def _sha1(values: pd.Series, prefix: str) -> pd.Series:
    """``prefix`` + SHA-1 hex of each value (computed once per distinct value)."""
    distinct = values.dropna().unique()
    digests = {v: prefix + hashlib.sha1(str(v).encode()).hexdigest() for v in distinct}
    return values.map(digests)


def local_ids(iris: pd.Series, platform_url: str) -> pd.Series:
    """IRIs under ``platform_url`` -> their last path segment; other IRIs unchanged."""
    iris = iris.astype("string")
    if not platform_url:
        return iris
    base = platform_url.rstrip("/") + "/"
    under = iris.str.startswith(base).fillna(False)
    return iris.where(~under, iris.str.rstrip("/").str.rsplit("/", n=1).str[-1])


def actor_ids(flat: pd.DataFrame, platform_url: str) -> pd.Series:
    """The stable id of each statement's actor (None when it has no usable identity)."""
    home = flat["actor.account.homePage"].astype("string").str.rstrip("/")
    name = flat["actor.account.name"].astype("string")
    own = home.eq(platform_url.rstrip("/")).fillna(False) if platform_url else pd.Series(False, index=flat.index)
    account = name.where(own, _sha1(home + "|" + name, "xapi-account:"))
    mbox = _sha1(flat["actor.mbox"].astype("string"), "mbox-sha1:")
    sha = "mbox-sha1:" + flat["actor.mbox_sha1sum"].astype("string").str.lower()
    openid = _sha1(flat["actor.openid"].astype("string"), "openid:")
    agent = flat["actor.objectType"].isna() | flat["actor.objectType"].eq("Agent")
    ids = account.fillna(mbox).fillna(sha).fillna(openid)
    return ids.where(agent.fillna(False) & ids.notna() & ids.ne(""), None)


def duration_seconds(durations: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(seconds, bad): ISO 8601 durations in seconds; ``bad`` where a present value does not parse."""
    text = durations.astype("string")
    parts = text.str.extract(DURATION)
    seconds = sum(parts[k].astype(float).fillna(0.0) * factor for k, factor in DURATION_SECONDS.items())
    matched = parts.notna().any(axis=1)
    bad = text.notna() & ~matched.fillna(False)
    return seconds.where(matched, np.nan), bad


def _first_text(flat: pd.DataFrame, prefix: str) -> pd.Series:
    """The first non-null value among the columns named ``prefix``<something> (language maps)."""
    columns = [c for c in flat.columns if c.startswith(prefix)]
    if not columns:
        return pd.Series(None, index=flat.index, dtype="string")
    return flat[columns].astype("string").bfill(axis=1).iloc[:, 0]


CONTEXT_LISTS = [f"context.contextActivities.{k}" for k in ("parent", "grouping", "category", "other")]


def _context_activity(flat: pd.DataFrame, types: tuple[str, ...], platform_url: str) -> pd.Series:
    """Per statement, the mapped id of the first context activity (parent, grouping, category, other)
    whose definition type is one of ``types``."""
    combined = pd.concat([flat[c] for c in CONTEXT_LISTS]).explode().dropna()
    combined = combined[combined.map(lambda a: isinstance(a, dict)).astype(bool)]
    if combined.empty:
        return pd.Series(None, index=flat.index, dtype="string")
    activities = pd.json_normalize(combined.tolist()).reindex(columns=["id", "definition.type"])
    activities.index = combined.index
    chosen = activities[activities["definition.type"].isin(types) & activities["id"].notna()]
    first = chosen.groupby(level=0)["id"].first()
    return local_ids(first, platform_url).reindex(flat.index)


FLAT_COLUMNS = [
    "id", "stored", "timestamp", "verb.id", "actor.objectType", "actor.name", "actor.account.homePage",
    "actor.account.name", "actor.mbox", "actor.mbox_sha1sum", "actor.openid", "object.objectType", "object.id",
    "object.definition.type", "result.score.scaled", "result.score.raw", "result.score.min", "result.score.max",
    "result.duration", f"result.extensions.{CMI5_PROGRESS}", f"result.extensions.{VIDEO_PROGRESS}",
    f"context.extensions.{CMI5_MASTERY}", *CONTEXT_LISTS,
]


def _number(series: pd.Series) -> pd.Series:
    """Numbers as float (booleans, strings and other non-numbers become NaN)."""
    numeric = series.map(lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
    return pd.to_numeric(numeric, errors="coerce").astype(float)


def _timestamps(series: pd.Series) -> pd.Series:
    text = series.where(series.map(lambda v: isinstance(v, str)), None)
    return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")


def map_statements(statements: list, platform_url: str = "", default_passing_score: float = 60.0,
                   after: pd.Timestamp | None = None) -> Mapped:
    """Map one batch of parsed statements (see the module docstring); those stored at or before
    ``after`` (the watermark) are dropped without a trace."""
    raw = pd.Series(statements, dtype=object)
    is_object = raw.map(lambda s: isinstance(s, dict)).astype(bool)
    records = [s if ok else {} for s, ok in zip(statements, is_object)]
    flat = pd.json_normalize(records) if records else pd.DataFrame()
    flat = flat.reindex(columns=sorted(set(flat.columns) | set(FLAT_COLUMNS)))
    flat.index = raw.index
    reason = pd.Series(None, index=raw.index, dtype=object)

    def flag(bad, message) -> None:
        nonlocal reason
        reason = reason.mask(reason.isna() & pd.Series(bad, index=raw.index).fillna(False).astype(bool), message)

    flag(~is_object, "statement is not an object")
    ids = flat["id"].where(flat["id"].map(lambda v: isinstance(v, str) and v != ""), None)
    flag(ids.isna(), "id: missing")
    stored = _timestamps(flat["stored"])
    stamp = _timestamps(flat["timestamp"])
    flag(stored.isna(), "stored: missing or not an ISO 8601 timestamp")
    flag(stamp.isna(), "timestamp: missing or not an ISO 8601 timestamp")
    flag((stamp < EARLIEST) | (stamp > stored + FUTURE_SLACK), "timestamp: absurd (before 1990 or after it was stored)")
    verb = flat["verb.id"].astype("string")
    kind = verb.map(lambda v: VERBS.get(v, (None, None))[0] if isinstance(v, str) else None)
    event_type = verb.map(lambda v: VERBS.get(v, (None, None))[1] if isinstance(v, str) else None)
    flag(verb.isna(), "verb: missing")
    flag(kind.isna(), "verb: unknown " + verb.fillna("").astype(str))
    is_void = kind.eq("void").fillna(False)
    users = actor_ids(flat, platform_url)
    flag(users.isna() & ~is_void, "actor: missing or without an identity (account, mbox, mbox_sha1sum, openid)")
    object_ids = local_ids(flat["object.id"], platform_url)
    flag(flat["object.id"].map(lambda v: not isinstance(v, str) or v == "").astype(bool), "object: missing id")
    object_type = flat["object.definition.type"].astype("string")
    is_course = object_type.eq(COURSE).fillna(False)

    scaled, raw_score = _number(flat["result.score.scaled"]), _number(flat["result.score.raw"])
    low, high = _number(flat["result.score.min"]).fillna(0.0), _number(flat["result.score.max"])
    score = (scaled * 100).fillna((raw_score - low) / (high - low) * 100).round(2)
    # Open edX's graded problem submission is `attempted` with a score: a result, not a start
    kind = kind.mask(verb.eq(ADL + "attempted").fillna(False) & score.notna(), "result")
    event_type = event_type.where(kind.ne("result").fillna(True), None)
    is_result = kind.eq("result").fillna(False)
    flag(is_result & score.isna(), "score: no result.score.scaled nor raw with max")
    flag(is_result & ((score < 0) | (score > 100)), "score: outside 0-100")
    mastery = _number(flat[f"context.extensions.{CMI5_MASTERY}"])
    flag(is_result & ((mastery < 0) | (mastery > 1)), "masteryscore: outside 0-1")
    passing = (mastery * 100).round(2).fillna(default_passing_score)

    progress = _number(flat[f"result.extensions.{CMI5_PROGRESS}"])
    video = _number(flat[f"result.extensions.{VIDEO_PROGRESS}"])
    flag((progress < 0) | (progress > 100), "progress: cmi5 progress outside 0-100")
    flag((video < 0) | (video > 1), "progress: video progress outside 0-1")
    progress = progress.fillna(video * 100)
    seconds, bad_duration = duration_seconds(flat["result.duration"])
    flag(bad_duration, "duration: not an ISO 8601 duration (without years or months)")
    flag(kind.eq("void") & flat["object.objectType"].ne("StatementRef"), "void: object is not a StatementRef")

    is_event = kind.eq("event").fillna(False)
    content_type = object_type.map(ACTIVITY_TYPES).astype("string")
    course = _context_activity(flat, (COURSE,), platform_url)
    course = course.where(~is_course, object_ids)
    skill = _context_activity(flat, SKILL_TYPES, platform_url)

    old = (stored <= after).fillna(False).astype(bool) if after is not None else pd.Series(False, index=raw.index)
    ok = reason.isna() & ~old
    bad = reason.notna() & ~old
    rejected = pd.DataFrame({
        "source_id": ids[bad].astype(object).to_numpy(),
        "reason": reason[bad].to_numpy(),
        "payload": [orjson.dumps(statements[i], default=str).decode() for i in np.flatnonzero(bad.to_numpy())],
    })
    events_mask = ok & is_event & ~is_course
    events = pd.DataFrame({
        "id": ids, "user_id": users, "course_id": course, "content_id": object_ids, "content_type": content_type,
        "event_type": event_type, "occurred_at": stamp, "duration_seconds": seconds, "progress": progress,
        "updated_at": stored,
    })[events_mask].reset_index(drop=True)
    results = pd.DataFrame({
        "id": ids, "user_id": users, "course_id": course, "assessment_id": object_ids, "skill_id": skill,
        "score": score, "passing_score": passing, "submitted_at": stamp, "updated_at": stored,
    })[ok & is_result].reset_index(drop=True)
    course_kind = kind.where(~(is_event & is_course & event_type.eq("completed")), "completed")
    signal = ok & course.notna() & users.notna() & (kind.isin(["enrol", "withdraw"]) | is_event | is_result)
    enrollments = pd.DataFrame({
        "user_id": users, "course_id": course,
        "kind": course_kind.where(kind.isin(["enrol", "withdraw"]) | (is_course & is_event), "activity"),
        "at": stamp, "updated_at": stored,
    })[signal].reset_index(drop=True)
    named = ok & users.notna() & ~is_void
    actors = (pd.DataFrame({"id": users, "full_name": flat["actor.name"].astype("string"), "at": stamp,
                            "updated_at": stored})[named]
              .groupby("id", as_index=False).agg(full_name=("full_name", "last"), first_at=("at", "min"),
                                                 updated_at=("updated_at", "max")))
    titled = ok & (is_event | kind.isin(["enrol", "withdraw"]))  # content = what is studied; assessments are results
    activities = (pd.DataFrame({
        "id": object_ids, "course_id": course, "title": _first_text(flat, "object.definition.name."),
        "content_type": content_type, "is_course": is_course, "updated_at": stored,
    })[titled].sort_values("updated_at").groupby("id", as_index=False).last())
    voided = flat.loc[ok & kind.eq("void"), "object.id"].astype(str).reset_index(drop=True)
    latest = stored.max() if stored.notna().any() else None
    return Mapped(events, results, enrollments, actors, activities, voided, rejected,
                  int((ok & kind.eq("skip")).sum()), int(old.sum()), latest)
