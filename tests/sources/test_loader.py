"""The loader's one-pass COPY and its fallback to the upsert, against a real PostgreSQL."""
from __future__ import annotations

import secrets

import sqlalchemy as sa

from analytics_pipeline.sources.contract import validate_rows
from analytics_pipeline.sources.store.tables import ExtractionStats, TableSink
from analytics_pipeline.sources.specs import SOURCES_BY_RESOURCE
from tests.sources.test_contract import event

LATER = "2025-01-08T00:00:00Z"


def test_batches_copy_straight_in_until_a_key_conflicts_then_the_newest_version_wins(clean_warehouse):
    spec = SOURCES_BY_RESOURCE["learning-events"]
    stats = ExtractionStats("learning-events")
    with clean_warehouse.begin() as conn:
        sink = TableSink(conn, spec, stats, "test")
        sink.write(validate_rows("learning-events", [event(id="e1"), event(id="e2")]))
        assert sink.direct and (stats.inserted, stats.updated) == (2, 0)
        # e2 again (newer) and e3 twice in one batch: the COPY conflicts, the upsert applies the batch
        sink.write(validate_rows("learning-events", [
            event(id="e2", event_type="completed", updated_at=LATER), event(id="e3"),
            event(id="e3", event_type="progressed", updated_at=LATER),
        ]))
        assert not sink.direct and (stats.inserted, stats.updated) == (3, 1)
        sink.write(validate_rows("learning-events", [event(id="e1", event_type="completed")]))  # same updated_at
        rows = dict(conn.execute(sa.text("select id, event_type from learning_events")).all())
    assert rows == {"e1": "completed", "e2": "completed", "e3": "progressed"}
    assert stats.updated == 2


def test_rows_with_an_unknown_parent_are_quarantined_before_the_copy(clean_warehouse):
    spec = SOURCES_BY_RESOURCE["user-skills"]
    stats = ExtractionStats("user-skills")
    skill = {"mastery_level": 50, "updated_at": LATER}
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("insert into users (id, email, created_at, updated_at) values ('u1', 'a@b', now(), now())"))
        conn.execute(sa.text("insert into skills (id, name, updated_at) values ('s1', 'S', now())"))
        TableSink(conn, spec, stats, "test").write(validate_rows("user-skills", [
            {"user_id": "u1", "skill_id": "s1", **skill}, {"user_id": "u9", "skill_id": "s1", **skill},
            {"user_id": "u1", "skill_id": "s9", **skill},
        ]))
        loaded = conn.execute(sa.text("select id from user_skills")).scalars().all()
        reasons = conn.execute(sa.text("select source_id, reason from quarantine order by 1")).all()
    assert loaded == ["u1:s1"] and stats.inserted == 1 and stats.quarantined_orphans == 2
    assert [tuple(r) for r in reasons] == [("u1:s9", "unknown parent skills.id=s9"), ("u9:s1", "unknown parent users.id=u9")]


def _user(uid: str, email: str) -> dict:
    return {"id": uid, "email": email, "full_name": "A", "organization_id": None, "roles": ["learner"],
            "created_at": "2025-01-01T00:00:00Z", "updated_at": LATER}


def test_rows_postgresql_rejects_are_found_by_bisection_and_quarantined_with_its_message(clean_warehouse):
    """Values the contract allows but a constraint or an index limit refuses: the rest of the batch loads."""
    huge_id = secrets.token_hex(3000)  # 6000 random characters: beyond a btree index row (2704 bytes)
    users = [_user(f"u{i}", f"u{i}@x") for i in range(7)] + [_user("dup", "u3@x"), _user(huge_id, "h@x")]
    events = [event(id=f"e{i}", user_id="u1") for i in range(5)] + [event(id=huge_id, user_id="u1")]
    users_stats, events_stats = ExtractionStats("users"), ExtractionStats("learning-events")
    with clean_warehouse.begin() as conn:
        TableSink(conn, SOURCES_BY_RESOURCE["users"], users_stats, "test").write(validate_rows("users", users))
        events_sink = TableSink(conn, SOURCES_BY_RESOURCE["learning-events"], events_stats, "test")
        events_sink.write(validate_rows("learning-events", events))  # the direct COPY path
        loaded = conn.execute(sa.text("select id from users order by id")).scalars().all()
        roles = conn.execute(sa.text("select count(*) from user_roles")).scalar_one()
        event_ids = conn.execute(sa.text("select id from learning_events order by id")).scalars().all()
        rejected = conn.execute(sa.text(
            "select resource, left(source_id, 10), reason, payload from quarantine order by resource, source_id")).all()
    assert loaded == [f"u{i}" for i in range(7)] and roles == 7
    assert event_ids == [f"e{i}" for i in range(5)] and events_sink.direct
    assert (users_stats.inserted, users_stats.quarantined_invalid, users_stats.child_rows) == (7, 2, 7)
    assert (events_stats.inserted, events_stats.quarantined_invalid) == (5, 1)
    by_id = {(r.resource, r[1]): r for r in rejected}
    assert set(by_id) == {("users", "dup"), ("users", huge_id[:10]), ("learning-events", huge_id[:10])}
    assert by_id["users", "dup"].reason.startswith("rejected by PostgreSQL [23505]: duplicate key value")
    assert '"email":"u3@x"' in by_id["users", "dup"].payload
    assert "[54000]" in by_id["users", huge_id[:10]].reason and "[54000]" in by_id["learning-events", huge_id[:10]].reason
