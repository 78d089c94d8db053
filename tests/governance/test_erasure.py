"""Erasure: a learner deleted upstream disappears from every table, aggregates at their refresh."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.governance.store import process_erasures
from tests.governance.people import PEOPLE, seed_people

T = pd.Timestamp.now(tz="UTC").normalize().to_pydatetime()


def occurrences(conn, user_id: str) -> dict[str, int]:
    """Rows holding ``user_id`` in every table or view with a user_id column, users.id, courses.trainer_id,
    quarantine payloads and the materialized views."""
    found = {}
    relations = conn.execute(sa.text(
        "select c.table_name from information_schema.columns c join information_schema.tables t "
        "on t.table_schema = c.table_schema and t.table_name = c.table_name "
        "where c.table_schema = 'public' and c.column_name = 'user_id'")).scalars().all()
    relations += conn.execute(sa.text(
        "select c.relname from pg_class c join pg_attribute a on a.attrelid = c.oid "
        "where c.relkind = 'm' and a.attname = 'user_id'")).scalars().all()
    for relation in set(relations):
        found[relation] = conn.execute(sa.text(f'select count(*) from "{relation}" where user_id::text = :u'), {"u": user_id}).scalar_one()
    found["users.id"] = conn.execute(sa.text("select count(*) from users where id = :u"), {"u": user_id}).scalar_one()
    found["courses.trainer_id"] = conn.execute(sa.text("select count(*) from courses where trainer_id = :u"), {"u": user_id}).scalar_one()
    found["quarantine.payload"] = conn.execute(
        sa.text("select count(*) from quarantine where payload like :p or source_id = :u"), {"p": f'%"{user_id}"%', "u": user_id}).scalar_one()
    found["governance_audit"] = conn.execute(
        sa.text("select count(*) from governance_audit where detail::text like :p or target_table = :u"), {"p": f"%{user_id}%", "u": user_id}).scalar_one()
    return found


def assert_erased_everywhere(engine, user_id: str) -> None:
    """No row holds ``user_id`` (the leaderboards at their refresh)."""
    with engine.begin() as conn:
        conn.execute(sa.text("refresh materialized view leaderboard_weekly"))
        conn.execute(sa.text("refresh materialized view leaderboard_monthly"))
    with engine.connect() as conn:
        assert {where: n for where, n in occurrences(conn, user_id).items() if n} == {}


@pytest.fixture
def seeded(clean_warehouse):
    with clean_warehouse.begin() as conn:
        seed_people(conn, T)
        conn.execute(sa.text("refresh materialized view leaderboard_weekly"))
        conn.execute(sa.text("refresh materialized view leaderboard_monthly"))
    return clean_warehouse


def test_an_erased_trainer_disappears_from_every_table(seeded):
    with seeded.begin() as conn:
        assert sum(occurrences(conn, "t1").values()) > 20
        conn.execute(sa.text("insert into erasure_requests (user_id, source) values ('t1', 'lms:/v1/deletions')"))
    with seeded.begin() as conn:
        learners, counts = process_erasures(conn, run_id="run-1")
    assert learners == 1
    assert counts["users"] == 1 and counts["courses.trainer_id"] == 1 and counts["quarantine"] == 1
    assert counts["learner_velocity_analytics"] == 1 and counts["point_transactions_archive"] == 1
    with seeded.begin() as conn:
        conn.execute(sa.text("refresh materialized view leaderboard_weekly"))
        conn.execute(sa.text("refresh materialized view leaderboard_monthly"))
    with seeded.connect() as conn:
        left = {where: n for where, n in occurrences(conn, "t1").items() if n}
        assert left == {}
        # the others are untouched
        for person in set(PEOPLE) - {"t1"}:
            assert occurrences(conn, person)["learner_velocity_analytics"] == 1
        # tombstone instead of the id; audit has counts only
        tomb = conn.execute(sa.text("select user_id, processed_at is not null from erasure_requests")).all()
        assert len(tomb) == 1 and tomb[0][0].startswith("sha256:") and tomb[0][1]
        audit = conn.execute(sa.text("select target_table, rows_affected, detail ->> 'learners', run_id from governance_audit "
                                     "where action = 'erasure'")).all()
        assert {row[0] for row in audit} >= {"users", "learning_events", "point_transactions"}
        assert all(row[2] == "1" and row[3] == "run-1" for row in audit)


def test_repeated_and_concurrent_requests_and_resurrection(seeded):
    with seeded.begin() as conn:
        conn.execute(sa.text("insert into erasure_requests (user_id) values ('a2'), ('b1')"))
        assert process_erasures(conn)[0] == 2
        # the feed delivers the deletion again, and an unknown id: no error, one tombstone each
        conn.execute(sa.text("insert into erasure_requests (user_id) values ('a2'), ('never-existed')"))
        learners, counts = process_erasures(conn)
        assert learners == 2 and counts["users"] == 0
        assert conn.execute(sa.text("select count(*) from erasure_requests")).scalar_one() == 3
        assert conn.execute(sa.text("select count(*) from erasure_requests where processed_at is null")).scalar_one() == 0
        assert process_erasures(conn) == (0, {})
        # a user row coming back for an erased learner is detected (by hash, no id kept)
        conn.execute(sa.text("insert into users (id, email) values ('b1', 'b1-again@example.org')"))
        back = conn.execute(sa.text(open("sql/queries/governance/erased_learners_present.sql").read())).scalar_one()
        assert back == 1


@pytest.mark.parametrize("odd_id", ["x' OR '1'='1", "%", "a_", "a1\\", '"a1"'])
def test_odd_ids_erase_nothing_else(seeded, odd_id):
    with seeded.begin() as conn:
        rows = dict(conn.execute(sa.text("select * from erase_learners(array[:u])"), {"u": odd_id}).all())
        assert sum(rows.values()) == 0
        assert conn.execute(sa.text("select count(*) from users")).scalar_one() == len(PEOPLE)
        assert conn.execute(sa.text("select count(*) from quarantine")).scalar_one() == len(PEOPLE)
        assert conn.execute(sa.text("select count(*) from erase_learners(cast(array[] as text[]))")).scalar_one() == 0
        assert conn.execute(sa.text("select count(*) from erase_learners(null)")).scalar_one() == 0


def test_erasure_covers_a_table_added_later(seeded):
    with seeded.begin() as conn:
        conn.execute(sa.text("create table gov_later_child (id serial primary key, user_id text references users(id), note text)"))
        conn.execute(sa.text("insert into gov_later_child (user_id, note) values ('a1', 'x'), ('a2', 'y')"))
        counts = dict(conn.execute(sa.text("select * from erase_learners(array['a1'])")).all())
        assert counts["gov_later_child"] == 1 and counts["users"] == 1
        conn.rollback()


def waited(blocked, release):
    """Run ``blocked()`` in a thread: it must still be waiting (on a lock) after 2 s; then
    ``release()``. Returns ``blocked()``'s result (its exception raised)."""
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["result"] = blocked()
        except Exception as exc:  # noqa: BLE001 - raised below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=2)
    assert thread.is_alive(), "it must wait for the other transaction's lock"
    release()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_an_erasure_waits_for_a_step_still_writing_rows_of_the_learner(seeded):
    """A snapshot step inserted a row for a learner and has not committed when the erasure starts:
    the erasure waits for it (the users row is locked first), then deletes that row too — before the
    lock, its table deletes missed the uncommitted row and the users delete failed on the foreign key."""
    with seeded.begin() as conn:
        conn.execute(sa.text("insert into erasure_requests (user_id, source) values ('t1', 'lms:/v1/deletions')"))
        conn.execute(sa.text("delete from skill_gap_analytics where user_id = 't1'"))
    writer = seeded.connect()
    writer_tx = writer.begin()
    writer.execute(sa.text(
        "insert into skill_gap_analytics (user_id, total_gaps, critical_gaps, gaps, calculated_at, expires_at) "
        "values ('t1', 1, 0, '[]', :t, :e)"), {"t": T, "e": T + pd.Timedelta(days=1)})

    def erase():
        with seeded.begin() as conn:
            return process_erasures(conn, run_id="run-concurrent")

    def writer_commits():
        writer_tx.commit()
        writer.close()

    learners, counts = waited(erase, writer_commits)
    assert learners == 1 and counts["users"] == 1 and counts["skill_gap_analytics"] == 1
    assert_erased_everywhere(seeded, "t1")


def _written_beside_an_erasure(engine, user_id: str, write):
    """The erasure of ``user_id`` has deleted the learner and holds its users row (not committed)
    when ``write()`` starts in another thread: the write must wait; the erasure commits. Returns
    ``write()``'s result (its exception raised)."""
    with engine.begin() as conn:
        conn.execute(sa.text("insert into erasure_requests (user_id, source) values (:u, 'lms:/v1/deletions')"),
                     {"u": user_id})
    eraser = engine.connect()
    erasure = eraser.begin()
    learners, _ = process_erasures(eraser, run_id="run-erasure")
    assert learners == 1

    def erasure_commits():
        erasure.commit()
        eraser.close()

    return waited(write, erasure_commits)


def test_a_snapshot_written_beside_an_erasure_drops_the_erased_learners_row(seeded):
    """A snapshot step starts writing rows of an erased learner and of another while the erasure holds
    the learner: its COPY waits, then fails the foreign key. The erased learner's row is dropped and
    counted, never quarantined (its payload would keep the learner); the other row is written."""
    from analytics_pipeline.warehouse.bulk import replace_snapshot

    at = pd.Timestamp(T) + pd.Timedelta(hours=1)
    rows = pd.DataFrame({"user_id": ["t1", "a2"], "total_gaps": [3, 2], "critical_gaps": [1, 0], "gaps": [[], []],
                         "calculated_at": at, "expires_at": at + pd.Timedelta(days=1)})

    def write():
        with replace_snapshot(seeded, "skill_gap_analytics", at, json_columns=["gaps"], run_id="run-writer") as writer:
            writer.write(rows)
        return writer

    writer = _written_beside_an_erasure(seeded, "t1", write)
    assert_erased_everywhere(seeded, "t1")
    with seeded.connect() as conn:
        written = conn.execute(sa.text("select user_id, total_gaps from skill_gap_analytics where calculated_at = :at"),
                               {"at": at.to_pydatetime()}).all()
        assert [tuple(r) for r in written] == [("a2", 2)]
        assert conn.execute(sa.text("select count(*) from quarantine where resource = 'skill_gap_analytics'")).scalar_one() == 0
    assert (writer.rows, writer.dropped_erased, writer.quarantined) == (1, 1, 0)


def test_a_set_based_write_beside_an_erasure_runs_again_without_the_learner(seeded):
    """user_points' upsert (INSERT ... SELECT) starts while the erasure holds a learner it recomputes:
    the statement waits, fails the foreign key when the erasure commits, and runs again without the
    learner; the other learners' rows are written and the step does not fail."""
    from analytics_pipeline.gamification import GamificationConfig
    from analytics_pipeline.gamification.store import update_user_points

    with seeded.begin() as conn:
        conn.execute(sa.text("delete from user_points where user_id = 't1'"))  # t1's row: inserted, not updated
    meta = _written_beside_an_erasure(
        seeded, "t1", lambda: update_user_points(seeded, pd.Timestamp(T), GamificationConfig(), everyone=True))
    assert meta["erased_learner_retries"] == 1
    assert_erased_everywhere(seeded, "t1")
    with seeded.connect() as conn:
        others = conn.execute(sa.text("select count(*) from user_points")).scalar_one()
    assert others == len(PEOPLE) - 1 == meta["rows"]


def test_a_loader_batch_written_beside_an_erasure_drops_the_erased_learners_row(seeded):
    """The loader writes a batch naming a learner the erasure holds: the learner's row is dropped and
    counted (not quarantined as a row PostgreSQL refused), the other learner's row is loaded."""
    from analytics_pipeline.sources.contract import validate_rows
    from analytics_pipeline.sources.specs import SOURCES_BY_RESOURCE
    from analytics_pipeline.sources.store.tables import ExtractionStats, TableSink

    with seeded.begin() as conn:
        conn.execute(sa.text("insert into skills (id, name, updated_at) values ('gov-s', 'S', now())"))
    skill = {"skill_id": "gov-s", "mastery_level": 50, "updated_at": "2025-01-08T00:00:00Z"}

    def load():
        stats = ExtractionStats("user-skills")
        with seeded.begin() as conn:
            TableSink(conn, SOURCES_BY_RESOURCE["user-skills"], stats, "test").write(
                validate_rows("user-skills", [{"user_id": "t1", **skill}, {"user_id": "a2", **skill}]))
        return stats

    stats = _written_beside_an_erasure(seeded, "t1", load)
    assert_erased_everywhere(seeded, "t1")
    with seeded.connect() as conn:
        assert conn.execute(sa.text("select id from user_skills where skill_id = 'gov-s'")).scalars().all() == ["a2:gov-s"]
        assert conn.execute(sa.text("select count(*) from quarantine where resource = 'user-skills'")).scalar_one() == 0
    assert (stats.inserted, stats.dropped_erased, stats.quarantined_invalid) == (1, 1, 0)


def test_lrs_enrollments_skip_a_learner_erased_since_the_run_wrote_the_signals(seeded):
    """An LRS run (rosters from the LRS) signalled enrollments of a learner erased before its last
    statement: the run's enrollments are written for the others, none for the erased learner (the
    statement used to fail the foreign key to users and the whole LRS load rolled back)."""
    from analytics_pipeline.sources.store.xapi import XapiSink, XapiStats

    with seeded.begin() as conn:
        conn.execute(sa.text("insert into erasure_requests (user_id, source) values ('t1', 'lms:/v1/deletions')"))
        assert process_erasures(conn, run_id="run-erasure")[0] == 1
    course = "gov-xapi-course"
    at = pd.Timestamp(T) - pd.Timedelta(days=2)
    signals = pd.DataFrame({"user_id": ["t1", "a2"], "course_id": [course, course], "kind": ["enrol", "enrol"],
                            "at": [at, at], "updated_at": [at, at]})
    with seeded.begin() as conn:
        conn.execute(sa.text("insert into courses (id, name) values (:c, 'X')"), {"c": course})
        stats = XapiStats("xapi-statements")
        sink = XapiSink(conn, stats, "run-lrs", "lrs")
        sink.signals.append(signals)
        sink.finish()
    assert (stats.enrollments_written, stats.erased_learner_retries) == (1, 0)
    with seeded.connect() as conn:
        assert conn.execute(sa.text("select user_id from enrollments where course_id = :c"), {"c": course}).scalars().all() == ["a2"]
    assert_erased_everywhere(seeded, "t1")
