"""The loader's one-pass COPY and its fallback to the upsert, against a real PostgreSQL."""
from __future__ import annotations

import secrets

import pytest
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


# ─── a first load: the secondary indexes built once after the rows (bulk.DeferredIndexes) ───

SECONDARY = {"idx_learning_events_user_time", "idx_learning_events_occurred", "idx_learning_events_updated"}


def indexes(conn, table: str = "learning_events") -> dict[str, str]:
    return dict(conn.execute(sa.text("select indexname, indexdef from pg_indexes where tablename = :t"), {"t": table}).all())


def test_a_first_load_builds_the_secondary_indexes_after_the_rows_and_the_rollup_still_marks(clean_warehouse):
    spec = SOURCES_BY_RESOURCE["learning-events"]
    stats = ExtractionStats("learning-events")
    with clean_warehouse.connect() as conn:
        before = indexes(conn)
    assert SECONDARY <= set(before)
    with clean_warehouse.begin() as conn:
        # the rollup is exact up to LATER: an event inserted with an older updated_at marks its cell
        conn.execute(sa.text("insert into learner_daily_activity_asof (asof) values (:a)"), {"a": LATER})
        sink = TableSink(conn, spec, stats, "test", defer_indexes=True)
        assert sink.deferred is not None
        assert set(indexes(conn)) == set(before) - SECONDARY  # the primary key stays: it finds conflicts
        sink.write(validate_rows("learning-events", [event(id="e1"), event(id="e2", user_id="u2")]))
        sink.write(validate_rows("learning-events", [event(id="e2", event_type="completed", updated_at=LATER)]))
        assert not sink.direct and (stats.inserted, stats.updated) == (2, 1)
        sink.finish()
        assert indexes(conn) == before
        dirty = conn.execute(sa.text("select user_id from learning_events_rollup_dirty order by 1")).scalars().all()
    assert dirty == ["u1", "u2"]
    with clean_warehouse.connect() as conn:
        assert indexes(conn) == before
        assert conn.execute(sa.text("select id, event_type from learning_events order by 1")).all() == [
            ("e1", "started"), ("e2", "completed")]


def test_a_failed_first_load_leaves_table_and_indexes_as_they_were(clean_warehouse):
    spec = SOURCES_BY_RESOURCE["learning-events"]
    with clean_warehouse.connect() as conn:
        before = indexes(conn)
    with pytest.raises(RuntimeError, match="the load failed"), clean_warehouse.begin() as conn:
        sink = TableSink(conn, spec, ExtractionStats("learning-events"), "test", defer_indexes=True)
        sink.write(validate_rows("learning-events", [event(id="e1")]))
        assert sink.deferred is not None
        raise RuntimeError("the load failed")
    with clean_warehouse.connect() as conn:
        assert indexes(conn) == before
        assert conn.execute(sa.text("select count(*) from learning_events")).scalar_one() == 0


def test_a_key_too_long_for_an_index_is_judged_with_the_indexes_in_place(clean_warehouse):
    """A user_id the (user_id, occurred_at) index cannot hold: quarantined with PostgreSQL's message as
    before; the rows of the batch before and after it load, the indexes are there at the end."""
    spec = SOURCES_BY_RESOURCE["learning-events"]
    stats = ExtractionStats("learning-events")
    huge = secrets.token_hex(3000)  # 6000 random characters
    with clean_warehouse.connect() as conn:
        before = indexes(conn)
    with clean_warehouse.begin() as conn:
        sink = TableSink(conn, spec, stats, "test", defer_indexes=True)
        sink.write(validate_rows("learning-events", [event(id="e1")]))
        assert sink.deferred is not None
        sink.write(validate_rows("learning-events", [event(id="e2"), event(id="e3", user_id=huge), event(id="e4")]))
        assert sink.deferred is None and indexes(conn) == before
        sink.finish()
        loaded = conn.execute(sa.text("select id from learning_events order by 1")).scalars().all()
        reason = conn.execute(sa.text("select reason from quarantine where source_id = 'e3'")).scalar_one()
    assert loaded == ["e1", "e2", "e4"] and stats.quarantined_invalid == 1
    assert reason.startswith("rejected by PostgreSQL [54000]") and "idx_learning_events_user_time" in reason


def test_indexes_stay_when_the_table_has_rows_or_is_in_use(clean_warehouse):
    spec = SOURCES_BY_RESOURCE["learning-events"]
    with clean_warehouse.begin() as conn:  # in use: another transaction read it (no waiting for it)
        conn.execute(sa.text("select count(*) from learning_events"))
        with clean_warehouse.begin() as other:
            assert TableSink(other, spec, ExtractionStats("x"), "test", defer_indexes=True).deferred is None
            assert SECONDARY <= set(indexes(other))
    with clean_warehouse.begin() as conn:
        TableSink(conn, spec, ExtractionStats("x"), "test").write(validate_rows("learning-events", [event(id="e1")]))
    with clean_warehouse.begin() as conn:  # not empty: an incremental load keeps its indexes
        assert TableSink(conn, spec, ExtractionStats("x"), "test", defer_indexes=True).deferred is None


def test_a_row_read_again_unchanged_is_not_rewritten(clean_warehouse):
    """Same updated_at, same values: no new row version, no rollup cell marked; changed values still win."""
    spec = SOURCES_BY_RESOURCE["learning-events"]
    stats = ExtractionStats("learning-events")
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("insert into learner_daily_activity_asof (asof) values (:a)"), {"a": LATER})
        sink = TableSink(conn, spec, stats, "test")
        sink.write(validate_rows("learning-events", [event(id="e1"), event(id="e2", user_id="u2")]))
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("delete from learning_events_rollup_dirty"))
        version = dict(conn.execute(sa.text("select id, xmin::text from learning_events")).all())
        sink = TableSink(conn, spec, stats, "test")
        sink.write(validate_rows("learning-events", [event(id="e1"), event(id="e2", user_id="u2", event_type="completed")]))
        assert not sink.direct and (stats.inserted, stats.updated, stats.unchanged) == (2, 1, 1)
        after = dict(conn.execute(sa.text("select id, xmin::text from learning_events")).all())
        dirty = conn.execute(sa.text("select user_id from learning_events_rollup_dirty")).scalars().all()
    assert after["e1"] == version["e1"] and after["e2"] != version["e2"]
    assert dirty == ["u2"]


def test_a_batch_prepared_outside_the_writer_loads_the_same_and_still_isolates_a_bad_row(clean_warehouse):
    """``prepare`` (the validation thread's share: rows, CSV, key sizes) then ``write``: the CSV made
    ahead is what is COPied; a row PostgreSQL refuses is still found by bisection and quarantined."""
    spec = SOURCES_BY_RESOURCE["learning-events"]
    stats = ExtractionStats("learning-events")
    huge_id = secrets.token_hex(3000)
    with clean_warehouse.begin() as conn:
        sink = TableSink(conn, spec, stats, "test")
        clean = validate_rows("learning-events", [event(id="e1"), event(id="e2", user_id="u2")])
        prepared = sink.prepare(clean)
        assert prepared.csv is not None and prepared.csv.count(b"\n") == 2 and prepared.admitted
        sink.write(clean, prepared)
        bad = validate_rows("learning-events", [event(id="e3"), event(id=huge_id)])
        sink.write(bad, sink.prepare(bad))
        loaded = conn.execute(sa.text("select id, user_id from learning_events order by 1")).all()
        reason = conn.execute(sa.text("select reason from quarantine")).scalar_one()
    assert [tuple(r) for r in loaded] == [("e1", "u1"), ("e2", "u2"), ("e3", "u1")]
    assert (stats.inserted, stats.quarantined_invalid) == (3, 1) and reason.startswith("rejected by PostgreSQL [54000]")


def test_a_prepared_batch_takes_the_upsert_after_a_conflict_and_parents_are_checked_before_any_csv(clean_warehouse):
    skills = validate_rows("user-skills", [{"user_id": "u1", "skill_id": "s1", "mastery_level": 50, "updated_at": LATER}])
    stats = ExtractionStats("learning-events")
    with clean_warehouse.begin() as conn:
        assert TableSink(conn, SOURCES_BY_RESOURCE["user-skills"], ExtractionStats("x"), "t").prepare(skills).csv is None
        sink = TableSink(conn, SOURCES_BY_RESOURCE["learning-events"], stats, "t")
        first = validate_rows("learning-events", [event(id="e1")])
        sink.write(first, sink.prepare(first))
        newer = validate_rows("learning-events", [event(id="e1", event_type="completed", updated_at=LATER), event(id="e2")])
        sink.write(newer, sink.prepare(newer))  # the COPY conflicts: staged from the prepared CSV, upserted
        rows = conn.execute(sa.text("select id, event_type from learning_events order by 1")).all()
    assert not sink.direct and (stats.inserted, stats.updated) == (2, 1)
    assert [tuple(r) for r in rows] == [("e1", "completed"), ("e2", "started")]


def test_row_count_is_exact_for_small_tables_and_the_planners_estimate_above_the_limit(clean_warehouse):
    # count(*) reads a whole table: above the limit the metadata carries the planner's estimate,
    # scaled to the pages the table has now, and says it is one
    from analytics_pipeline.sources.store.tables import table_rows
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("drop table if exists row_count_probe"))
        conn.execute(sa.text("create table row_count_probe (id bigint, pad text) with (autovacuum_enabled = false)"))
        conn.execute(sa.text("insert into row_count_probe select g, repeat('x', 40) from generate_series(1, 20000) g"))
    # never analyzed: no density to scale, so counted whatever the limit
    assert table_rows(clean_warehouse, "row_count_probe", exact_max=0) == (20000, True)
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("analyze row_count_probe"))
        # appended after the statistics: the estimate still sees them through the page count
        conn.execute(sa.text("insert into row_count_probe select g, repeat('x', 40) from generate_series(1, 10000) g"))
    estimate, exact = table_rows(clean_warehouse, "row_count_probe", exact_max=1000)
    assert not exact and abs(estimate - 30000) <= 300
    assert table_rows(clean_warehouse, "row_count_probe") == (30000, True)
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("drop table row_count_probe"))
