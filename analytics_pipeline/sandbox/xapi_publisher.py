"""Publish the sandbox's learning activity into an xAPI LRS as statements.

Reads the contract API of a running sandbox (``/v1/learning-events``, ``/v1/assessment-results``,
``/v1/content``, ``/v1/courses``, ``/v1/deletions``) like any client and writes one statement per
learning event and assessment result, the way an LMS feeding an LRS would (cmi5 / ADL verbs,
the video profile's activity type, the cmi5 progress and mastery-score extensions), plus a
``voided`` statement for each deleted event or result. It knows only the contract: no code of
``sources/``.

- actor: ``account`` {homePage: the platform URL, name: the user id};
- object: ``<platform>/content/<content_id>`` (events) or ``<platform>/assessments/<id>``
  (results) with an activity type for the content type; the course as the context's parent
  activity ``<platform>/courses/<course_id>``, the skill as a category ``objective``;
- ``result.duration`` = ISO 8601 seconds, ``result.extensions`` cmi5 progress = the learner's
  cumulative progress in the content (the running sum of the contract's ``progress_delta``);
- ``id`` = a UUID derived from the contract id (re-publishing gives the same statements);
- ``stored`` = the contract's ``updated_at`` (when the platform recorded the row).

``statements(...)`` returns them; :func:`post` sends them in one ``POST /xAPI/statements``
(the LRS then sets ``stored`` to now; Ralph's file-system backend accepts one write per store
file), :func:`write_jsonl` writes them as JSON lines for ``ralph write``, which keeps their
``stored``: the analytics' "known at T" then matches the contract's ``updated_at <= T``.

    python -m analytics_pipeline.sandbox.xapi_publisher --api URL --token T (--lrs URL --user U --password P | --jsonl FILE)
"""
from __future__ import annotations

import argparse
import uuid

import numpy as np
import orjson
import pandas as pd
import requests

XAPI_VERSION = "1.0.3"
NAMESPACE = uuid.UUID("6f1b0a52-3f7e-4d8e-9d7a-0c3b5a1e2f40")
VERBS = {
    "started": "http://adlnet.gov/expapi/verbs/initialized",
    "progressed": "http://adlnet.gov/expapi/verbs/progressed",
    "completed": "http://adlnet.gov/expapi/verbs/completed",
}
ACTIVITY_TYPES = {
    "video": "https://w3id.org/xapi/video/activity-type/video",
    "reading": "http://adlnet.gov/expapi/activities/lesson",
    "quiz": "http://adlnet.gov/expapi/activities/assessment",
    "exercise": "http://adlnet.gov/expapi/activities/cmi.interaction",
    "project": "http://adlnet.gov/expapi/activities/performance",
}
COURSE = "http://adlnet.gov/expapi/activities/course"
OBJECTIVE = "http://adlnet.gov/expapi/activities/objective"
CMI5_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"
CMI5_MASTERY = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"


def read_all(api_url: str, token: str, resource: str) -> pd.DataFrame:
    """Every row of ``GET /v1/<resource>`` (the contract's cursor pagination)."""
    rows, cursor = [], None
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        while True:
            params = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
            response = session.get(f"{api_url.rstrip('/')}/v1/{resource}", params=params, timeout=60)
            response.raise_for_status()
            body = response.json()
            rows.extend(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                return pd.DataFrame(rows)


def statement_id(kind: str, source_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{source_id}"))


def _actor(platform: str, user_id: str) -> dict:
    return {"objectType": "Agent", "account": {"homePage": platform, "name": user_id}}


def _context(platform: str, course_id, skill_id=None, mastery=None) -> dict:
    context: dict = {}
    if isinstance(course_id, str):
        context["contextActivities"] = {"parent": [
            {"id": f"{platform}/courses/{course_id}", "objectType": "Activity", "definition": {"type": COURSE}}]}
    if isinstance(skill_id, str):
        context.setdefault("contextActivities", {})["category"] = [
            {"id": f"{platform}/skills/{skill_id}", "objectType": "Activity", "definition": {"type": OBJECTIVE}}]
    if mastery is not None:
        context["extensions"] = {CMI5_MASTERY: mastery}
    return context


def _seconds(value: float) -> str:
    return f"PT{value!r}S"


def event_statements(events: pd.DataFrame, platform: str) -> list[dict]:
    events = events.sort_values(["occurred_at", "id"])
    cumulative = events.groupby(["user_id", "content_id"])["progress_delta"].cumsum()
    out = []
    for row, progress in zip(events.itertuples(index=False), cumulative.tolist()):
        result: dict = {}
        if isinstance(row.duration_seconds, float) and not np.isnan(row.duration_seconds):
            result["duration"] = _seconds(row.duration_seconds)
        if not np.isnan(progress) and not (isinstance(row.progress_delta, float) and np.isnan(row.progress_delta)):
            result["extensions"] = {CMI5_PROGRESS: round(progress, 6)}
        statement = {
            "id": statement_id("event", row.id), "actor": _actor(platform, row.user_id),
            "verb": {"id": VERBS[row.event_type]},
            "object": {"objectType": "Activity", "id": f"{platform}/content/{row.content_id}",
                       "definition": {"type": ACTIVITY_TYPES[row.content_type]}},
            "timestamp": row.occurred_at, "stored": row.updated_at,
        }
        if result:
            statement["result"] = result
        context = _context(platform, row.course_id)
        if context:
            statement["context"] = context
        out.append(statement)
    return out


def result_statements(results: pd.DataFrame, platform: str) -> list[dict]:
    out = []
    for row in results.sort_values(["submitted_at", "id"]).itertuples(index=False):
        passed = row.score >= row.passing_score
        statement = {
            "id": statement_id("result", row.id), "actor": _actor(platform, row.user_id),
            "verb": {"id": "http://adlnet.gov/expapi/verbs/" + ("passed" if passed else "failed")},
            "object": {"objectType": "Activity", "id": f"{platform}/assessments/{row.assessment_id}",
                       "definition": {"type": ACTIVITY_TYPES["quiz"]}},
            "result": {"score": {"scaled": row.score / 100, "raw": row.score, "min": 0, "max": 100},
                       "success": bool(passed)},
            "context": _context(platform, row.course_id, row.skill_id, row.passing_score / 100),
            "timestamp": row.submitted_at, "stored": row.updated_at,
        }
        out.append(statement)
    return out


def void_statements(deletions: pd.DataFrame, platform: str) -> list[dict]:
    kinds = {"learning-events": "event", "assessment-results": "result"}
    rows = deletions[deletions["resource"].isin(list(kinds))] if not deletions.empty else deletions
    return [{
        "id": statement_id("void", f"{row.resource}:{row.id}"),
        "actor": {"objectType": "Agent", "account": {"homePage": platform, "name": "lms-system"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": statement_id(kinds[row.resource], row.id)},
        "timestamp": row.updated_at, "stored": row.updated_at,
    } for row in rows.itertuples(index=False)]


def statements(api_url: str, token: str, platform: str) -> list[dict]:
    """Every statement for the sandbox's current activity, in the order the platform recorded them
    (``stored`` = the contract's ``updated_at``: when the row became known)."""
    events = read_all(api_url, token, "learning-events")
    results = read_all(api_url, token, "assessment-results")
    deletions = read_all(api_url, token, "deletions")
    batch = [*event_statements(events, platform), *result_statements(results, platform),
             *void_statements(deletions, platform)]
    return sorted(batch, key=lambda statement: pd.Timestamp(statement["stored"]))


def post(lrs_url: str, username: str, password: str, batch: list[dict], timeout: float = 600) -> list[str]:
    """``POST /xAPI/statements`` of the whole batch (the LRS sets ``stored``: now); the ids it stored."""
    bare = [{k: v for k, v in statement.items() if k != "stored"} for statement in batch]
    response = requests.post(f"{lrs_url.rstrip('/')}/xAPI/statements", auth=(username, password),
                             headers={"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"},
                             data=orjson.dumps(bare), timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(f"the LRS refused the statements: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def write_jsonl(path, batch: list[dict], stored: str | None = None) -> None:
    """The statements as JSON lines for ``ralph write`` (which keeps ``stored`` as given: the
    statements' own, or ``stored`` for all when passed)."""
    with open(path, "wb") as out:
        for statement in batch:
            out.write(orjson.dumps({**statement, "stored": stored} if stored else statement) + b"\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="the sandbox's URL")
    parser.add_argument("--token", default="sandbox-token")
    parser.add_argument("--platform", help="homePage of the accounts and base of the activity IRIs (default: --api)")
    parser.add_argument("--lrs", help="POST the statements to this LRS (it sets `stored`)")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--jsonl", help="write JSON lines for `ralph write` instead (statements keep `stored`)")
    args = parser.parse_args(argv)
    if bool(args.lrs) == bool(args.jsonl):
        parser.error("give --lrs (with --user, --password) or --jsonl")
    batch = statements(args.api, args.token, (args.platform or args.api).rstrip("/"))
    if args.jsonl:
        write_jsonl(args.jsonl, batch)
        print(f"{len(batch)} statements written to {args.jsonl}")
    else:
        stored = post(args.lrs, args.user, args.password, batch)
        print(f"{len(stored)} statements stored in {args.lrs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
