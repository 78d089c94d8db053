"""Fuzz of the loader over real HTTP: a small ``http.server`` serves crafted, hostile pages.

NUL characters (top level, in a list, deep in a JSON object, in an id), lone surrogates escaped
in the JSON (``"\\ud800"``), 1 MB strings, 10^12 numbers, years 0001 and 9999, unknown enum
values, a row whose parent was quarantined, repeated ids in one page and repeated keys in one
JSON object. Every extraction asset must succeed (only the quarantine-share check fails, by
design), every valid row must land, every invalid one must be in the quarantine with its reason,
and the watermark must cover exactly the rows processed (in-range ``updated_at``).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import dagster as dg
import pytest
import sqlalchemy as sa

from analytics_pipeline.sources.store.tables import format_watermark
from tests.sources.conftest import ALL_ASSETS, materialize

BIG = "x" * 1_000_000
C0, C1 = "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"


def at(day: int) -> str:
    return f"2025-02-{day:02d}T00:00:00Z"


def row(**fields) -> str:
    return json.dumps(fields)


# resource -> pages -> (updated_at used by the server's updated_since filter, raw JSON text of the row)
ORGS = [[
    (at(1), row(id="o1", name="Org", settings={"theme": "dark"}, created_at=C0, updated_at=at(1))),
    (at(2), row(id="o2", name="Org 2", settings={"deep": {"k": "a\u0000b"}}, created_at=C0, updated_at=at(2))),
]]
USER = dict(full_name="Ann", organization_id="o1", roles=["learner"], created_at=C0)


def user(uid: str, day: int | str, **changes) -> tuple[str, str]:
    stamp = at(day) if isinstance(day, int) else day
    return stamp, row(**{**USER, "id": uid, "email": f"{uid}@x", "updated_at": stamp, **changes})


USERS = [[
    user("u1", 1),
    user("u2", 2, full_name="Ann\u0000Null"),
    (at(3), user("u3", 3)[1].replace('"Ann"', '"Ann \\ud800"')),
    user("u4", 4, full_name=BIG),
    (at(5), user("u6", 5)[1].replace('"full_name": "Ann"', '"full_name": "first", "full_name": "second"')),  # repeated key
    user("u7", 6, full_name="old"),
], [
    user("u7", 7, full_name="new"),  # u7 again, newer
    user("u9", 8, created_at="0001-01-01T00:00:00Z"),
    user("u10", 9, roles=["wizard"]),  # the last one in range
    user("u8", "9999-12-31T00:00:00Z"),
]]
COURSE = dict(name="C", description=None, organization_id="o1", trainer_id=None, skills=[], created_at=C0)
COURSES = [[
    (at(1), row(**COURSE, id="c1", expected_weeks=4, updated_at=at(1))),
    (at(2), row(**COURSE, id="c2", expected_weeks=1e12, updated_at=at(2))),
    (at(3), row(**COURSE, id="c3", starts_at="0001-01-01T00:00:00Z", updated_at=at(3))),
]]
ENROLLMENT = dict(course_id="c1", enrolled_at=C0, progress_percent=10, status="active")
ENROLLMENTS = [[
    (at(1), row(**ENROLLMENT, id="n1", user_id="u1", updated_at=at(1))),
    (at(2), row(**{**ENROLLMENT, "status": "paused"}, id="n2", user_id="u1", updated_at=at(2))),
    (at(3), row(**ENROLLMENT, id="n3", user_id="u2", updated_at=at(3))),  # its user was quarantined
    (at(4), row(**{**ENROLLMENT, "progress_percent": 1e12}, id="n4", user_id="u1", updated_at=at(4))),
]]
CONTENT = [[
    (at(1), row(id="k1", course_id="c1", title="T", content_type="video", skill_ids=["s\u0000"], updated_at=at(1))),
    (at(2), row(id="k2", course_id="c1", title="T", content_type="video", duration_minutes=1e12, updated_at=at(2))),
    (at(3), row(id="k3", course_id="c1", title="T", content_type="video", due_at="9999-12-31T00:00:00Z", updated_at=at(3))),
]]
EVENT = dict(user_id="u1", course_id="c1", content_id="k2", content_type="video", occurred_at=C1)
EVENTS = [[
    (at(1), row(**EVENT, id="v1", event_type="started", updated_at=at(1))),
    (at(2), row(**EVENT, id="v1", event_type="progressed", updated_at=at(2))),  # repeated id in one page, newer
    (at(2), row(**EVENT, id="v2", event_type="teleported", updated_at=at(2))),
    (at(3), row(**EVENT, id="v3", event_type="completed", duration_seconds=1e12, updated_at=at(3))),
], [
    (at(4), row(**{**EVENT, "occurred_at": "0001-01-01T00:00:00Z"}, id="v4", event_type="started", updated_at=at(4))),
    (at(5), row(**EVENT, id="v5\u0000", event_type="started", updated_at=at(5))),
    (at(6), row(**EVENT, id="v6", event_type="started", updated_at=at(6)).replace('"k2"', '"\\udc00"')),
    (at(7), row(**EVENT, id="v7", event_type="started", description=BIG, updated_at=at(7))),  # unknown field: ignored
]]
PAGES = {"organizations": ORGS, "users": USERS, "courses": COURSES, "enrollments": ENROLLMENTS, "content": CONTENT,
         "learning-events": EVENTS}

LOADED = {
    "organizations": ["o1"], "users": ["u1", "u6", "u7"], "courses": ["c1"], "enrollments": ["n1"],
    "content_items": ["k2"], "learning_events": ["v1", "v3", "v7"],
}
QUARANTINED = {  # (resource, source_id) -> what the reason says
    ("organizations", "o2"): "settings: contains a NUL character",
    ("users", "u2"): "full_name: contains a NUL character",
    ("users", "u3"): "full_name: contains a lone UTF-16 surrogate",
    ("users", "u4"): "full_name: longer than 65536 characters",
    ("users", "u8"): "updated_at: outside 1900-01-01 .. 2200-01-01",
    ("users", "u9"): "created_at: outside 1900-01-01 .. 2200-01-01",
    ("users", "u10"): "roles: item: not one of learner",
    ("courses", "c2"): "expected_weeks: outside the integer range",
    ("courses", "c3"): "starts_at: outside 1900-01-01 .. 2200-01-01",
    ("enrollments", "n2"): "status: not one of active",
    ("enrollments", "n3"): "unknown parent users.id=u2",
    ("enrollments", "n4"): "progress_percent: above 100",
    ("content", "k1"): "skill_ids: item: contains a NUL character",
    ("content", "k3"): "due_at: outside 1900-01-01 .. 2200-01-01",
    ("learning-events", "v2"): "event_type: not one of started",
    ("learning-events", "v4"): "occurred_at: outside 1900-01-01 .. 2200-01-01",
    ("learning-events", "v5\\u0000"): "id: contains a NUL character",
    ("learning-events", "v6"): "content_id: contains a lone UTF-16 surrogate",
}
ASSETS = [a for a in ALL_ASSETS if a.key.path[-1] in LOADED]  # the crafted endpoints (the others serve nothing)
# The newest in-range updated_at each resource served (valid or quarantined): the watermark.
WATERMARKS = {"organizations": at(2), "users": at(9), "courses": at(3), "enrollments": at(4), "content": at(3),
              "learning-events": at(7)}


class CraftedApi:
    """The LMS list endpoints over real HTTP, serving ``PAGES`` (cursor = page number) verbatim."""

    def __init__(self, pages: dict):
        self.pages, self.since = pages, {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                resource, query = url.path.rsplit("/", 1)[-1], parse_qs(url.query)
                since = query.get("updated_since", [None])[0]
                api.since[resource] = since
                pages = api.pages.get(resource, [[]])
                number = int(query.get("cursor", ["0"])[0])
                rows = [text for stamp, text in pages[number] if since is None or stamp > since]
                cursor = json.dumps(str(number + 1)) if number + 1 < len(pages) else "null"
                body = ('{"data": [' + ", ".join(rows) + '], "next_cursor": ' + cursor + "}").encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def crafted_api():
    api = CraftedApi(PAGES)
    yield api
    api.stop()


def _check_results(result) -> dict[str, bool]:
    return {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations()}


def test_hostile_rows_are_quarantined_with_a_reason_and_the_rest_loads(crafted_api, clean_warehouse, warehouse_url,
                                                                       dagster_instance):
    result = materialize(crafted_api, warehouse_url, dagster_instance, ASSETS, max_retry_seconds=2.0)
    assert result.success  # every extraction asset materialized
    checks = _check_results(result)
    assert {name for name, passed in checks.items() if not passed} == {
        "organizations", "users", "courses", "enrollments", "content_items", "learning_events"}
    with clean_warehouse.connect() as conn:
        loaded = {t: conn.execute(sa.text(f"select id from {t} order by id")).scalars().all() for t in LOADED}
        users = dict(conn.execute(sa.text("select id, full_name from users")).all())
        event_type = conn.execute(sa.text("select event_type from learning_events where id = 'v1'")).scalar_one()
        numbers = conn.execute(sa.text(
            "select (select duration_minutes from content_items where id = 'k2'), "
            "(select duration_seconds from learning_events where id = 'v3')")).one()
        quarantined = {(r.resource, r.source_id): r for r in conn.execute(sa.text(
            "select resource, source_id, reason, payload from quarantine")).all()}
        marks = dict(conn.execute(sa.text("select resource, watermark from extraction_watermarks")).all())
    assert loaded == {t: sorted(ids) for t, ids in LOADED.items()}
    assert users["u6"] == "second" and users["u7"] == "new" and event_type == "progressed"
    assert [float(n) for n in numbers] == [1e12, 1e12]
    assert set(quarantined) == set(QUARANTINED)
    for key, reason in QUARANTINED.items():
        assert reason in quarantined[key].reason, (key, quarantined[key].reason)
        assert quarantined[key].payload.startswith("{")
    assert "\\u0000" in quarantined["users", "u2"].payload and "\\ud800" in quarantined["users", "u3"].payload
    assert len(quarantined["users", "u4"].payload) > 1_000_000  # the payload is kept whole
    assert {r: format_watermark(marks[r]) for r in WATERMARKS} == WATERMARKS

    # The next run asks for rows after exactly those watermarks: nothing processed is read again,
    # nothing unprocessed is skipped (u8, dated 9999, is served again and quarantined again).
    again = materialize(crafted_api, warehouse_url, dagster_instance, ASSETS)
    assert again.success
    assert {r: crafted_api.since[r] for r in WATERMARKS} == WATERMARKS
    with clean_warehouse.connect() as conn:
        repeated = conn.execute(sa.text(
            "select resource, source_id from quarantine group by 1, 2 having count(*) > 1")).all()
    assert [tuple(r) for r in repeated] == [("users", "u8")]


@pytest.mark.slow
def test_a_nightly_over_the_hostile_source_succeeds_and_applies_the_legal_duties(crafted_api, clean_warehouse,
                                                                                 dagster_instance, monkeypatch):
    """The code location's nightly job (sources, learner analytics, gamification, retention, erasure) over
    the hostile pages: every step succeeds; only the sources' quarantine-share checks fail, by design."""
    monkeypatch.setenv("LMS_API_URL", crafted_api.url)
    from analytics_pipeline import definitions
    from analytics_pipeline.assets.gamification import GAMIFICATION_ASSETS
    from analytics_pipeline.assets.learner_analytics import ASSETS as ANALYTICS

    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("insert into erasure_requests (user_id) values ('u6')"))
    keys = [a.key for a in ASSETS] + [k for a in [*ANALYTICS, *GAMIFICATION_ASSETS] for k in a.keys]
    result = definitions.defs.resolve_job_def("nightly").execute_in_process(
        partition_key="2025-02-10", instance=dagster_instance, raise_on_error=False,
        asset_selection=[*keys, dg.AssetKey("retention"), dg.AssetKey("erasure")],
        run_config={"ops": {a.key.to_python_identifier(): {"config": {"quality_engine": "pandas"}} for a in ANALYTICS}},
    )
    assert result.success and not result.get_step_failure_events()
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"retention", "erasure", "learning_events", "engagement_analytics", "user_points"} <= materialized
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    # non-blocking checks only: the sources' quarantine share, and the analytics' warning-level
    # expectations (a handful of learners make odd distributions)
    assert "quarantine_share" in {check for _, check in failed}
    assert {check for _, check in failed} <= {"quarantine_share", "quality_warnings"}
    with clean_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from users where id = 'u6'")).scalar_one() == 0  # erased
        flagged = conn.execute(sa.text(
            "select resource, reason from quarantine where resource not in :sources"
        ).bindparams(sa.bindparam("sources", expanding=True)), {"sources": list(PAGES)}).all()
    assert all("does not fit" in reason or "rejected by PostgreSQL" in reason for _, reason in flagged), flagged
