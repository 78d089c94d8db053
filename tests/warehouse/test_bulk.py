"""COPY writes and atomic snapshot replacement against the real PostgreSQL."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.warehouse.bulk import copy_frame, frame_to_csv, read_copy, read_frame, replace_snapshot

T = pd.Timestamp("2024-03-31T00:00:00Z")  # an old month: its partition does not exist yet


def _mastery(users, at, mastered=1):
    return pd.DataFrame({
        "user_id": users, "mastered_skills": mastered, "in_progress_skills": 0,
        "skills": [[{"skill_id": "s1", "level": 81.5}] for _ in users],
        "mastery_distribution": [{"expert": 0, "advanced": 1} for _ in users],
        "calculated_at": at, "expires_at": at + pd.Timedelta(hours=24),
    })


@pytest.fixture
def two_users(clean_warehouse):
    with clean_warehouse.begin() as conn:
        copy_frame(conn, "users", pd.DataFrame({
            "id": ["u1", "u2"], "email": ['a"b@x.org', "c,d@x.org"], "full_name": [None, ""],
            "created_at": pd.to_datetime(["2024-01-01T10:00:00.123456Z", "2024-01-02T00:00:00Z"], utc=True, format="ISO8601"),
        }))
    return clean_warehouse


def test_copy_round_trips_nulls_quotes_arrays_and_timestamps(two_users):
    with two_users.begin() as conn:
        copy_frame(conn, "content_items", pd.DataFrame({
            "id": ["c1"], "course_id": ["k"], "content_type": ["video"], "skill_ids": [["s1", 'we"ird,one']],
            "duration_minutes": [None], "updated_at": [pd.Timestamp("2024-01-01T00:00:00Z")],
        }), array_columns=["skill_ids"])
        users = conn.execute(sa.text("select id, email, full_name, created_at from users order by id")).all()
        content = conn.execute(sa.text("select skill_ids, duration_minutes from content_items")).one()
    assert users[0].email == 'a"b@x.org' and users[0].full_name is None
    assert users[1].email == "c,d@x.org" and users[1].full_name == ""
    assert users[0].created_at == pd.Timestamp("2024-01-01T10:00:00.123456Z")
    assert content.skill_ids == ["s1", 'we"ird,one'] and content.duration_minutes is None


def test_a_column_concatenated_from_an_empty_frame_is_written_as_its_values(two_users):
    """pandas 3 keeps an Arrow chunk per concatenated frame; an empty frame's broadcast string
    left a zero-length chunk that made pyarrow's CSV writer emit NUL bytes (COPY refused the
    column: a platform with an empty endpoint crashed the write)."""
    empty = pd.DataFrame({"id": pd.Series([], dtype=str), "course_id": "k", "content_type": "video"})
    rows = pd.DataFrame({"id": pd.Series(["c1", "c2"], dtype=str), "course_id": "k", "content_type": "quiz"})
    frame = pd.concat([empty, rows], ignore_index=True)
    assert frame["content_type"].array._pa_array.num_chunks == 2  # the shape that failed
    assert b"\x00" not in frame_to_csv(frame)
    with two_users.begin() as conn:
        assert copy_frame(conn, "content_items", frame.assign(updated_at=T)) == 2
        stored = conn.execute(sa.text("select id, content_type from content_items order by id")).all()
    assert [tuple(r) for r in stored] == [("c1", "quiz"), ("c2", "quiz")]


def test_snapshot_replace_is_idempotent_and_creates_its_partition(two_users):
    for _ in range(2):
        with replace_snapshot(two_users, "mastery_analytics", T, json_columns=["skills", "mastery_distribution"]) as writer:
            writer.write(_mastery(["u1", "u2"], T))
    with two_users.connect() as conn:
        rows = conn.execute(sa.text("select tableoid::regclass::text, skills from mastery_analytics where calculated_at = :t"), {"t": T.to_pydatetime()}).all()
    assert len(rows) == 2
    assert {r[0] for r in rows} == {"mastery_analytics_2024_03"}
    assert rows[0][1] == [{"skill_id": "s1", "level": 81.5}]


def test_a_failed_snapshot_write_leaves_the_previous_snapshot_whole(two_users):
    with replace_snapshot(two_users, "mastery_analytics", T, json_columns=["skills", "mastery_distribution"]) as writer:
        writer.write(_mastery(["u1", "u2"], T, mastered=1))
    with pytest.raises(RuntimeError):
        with replace_snapshot(two_users, "mastery_analytics", T, json_columns=["skills", "mastery_distribution"]) as writer:
            writer.write(_mastery(["u1"], T, mastered=7))
            raise RuntimeError("the computation of the next chunk failed")  # mid-snapshot
    with two_users.connect() as conn:
        values = conn.execute(sa.text("select mastered_skills from mastery_analytics where calculated_at = :t"), {"t": T.to_pydatetime()}).scalars().all()
    assert sorted(values) == [1, 1]


def test_a_learner_row_the_table_cannot_hold_is_quarantined_and_the_others_are_written(two_users):
    """numeric(5,2) overflow, an integer out of range (found column-wise), a foreign key (found by bisection)."""
    velocity = pd.DataFrame({
        "user_id": ["u1", "u2"], "current_pace": [12.5, 123456.0], "target_pace": 10.0, "trend_direction": "stable",
        "trend_percentage": 0.0, "status": "on_track", "estimated_completion": pd.NaT,
        "calculated_at": T, "expires_at": T + pd.Timedelta(hours=24)})
    mastery = pd.concat([_mastery(["u1"], T), _mastery(["u2"], T, mastered=2**31), _mastery(["gone"], T)],
                        ignore_index=True)
    with replace_snapshot(two_users, "learner_velocity_analytics", T, run_id="run-1") as writer:
        writer.write(velocity)
    assert (writer.rows, writer.quarantined) == (1, 1)
    with replace_snapshot(two_users, "mastery_analytics", T, ["skills", "mastery_distribution"], run_id="run-1") as writer:
        writer.write(mastery)
    assert (writer.rows, writer.quarantined) == (1, 2)
    with two_users.connect() as conn:
        written = conn.execute(sa.text("select user_id from learner_velocity_analytics union all "
                                       "select user_id from mastery_analytics")).scalars().all()
        rows = conn.execute(sa.text("select resource, source_id, reason, payload, run_id from quarantine "
                                    "order by resource, source_id")).all()
    assert written == ["u1", "u1"]
    assert [(r.resource, r.source_id, r.run_id) for r in rows] == [
        ("learner_velocity_analytics", "u2", "run-1"), ("mastery_analytics", "gone", "run-1"),
        ("mastery_analytics", "u2", "run-1")]
    assert rows[0].reason == "current_pace: 123456.0 does not fit numeric(5,2)"
    assert rows[1].reason.startswith("rejected by PostgreSQL [23503]")
    assert rows[2].reason == "mastered_skills: 2147483648 does not fit integer"
    assert '"current_pace":123456.0' in rows[0].payload


def test_a_scoped_snapshot_replaces_only_its_slice_and_deletes_given_learners(two_users):
    def cache_rows(kind, at):
        return pd.DataFrame({"user_id": ["u1", "u2"], "analytics_type": kind, "data": [{"k": kind}] * 2,
                             "calculated_at": at, "expires_at": at + pd.Timedelta(hours=48)})

    earlier = T - pd.Timedelta(days=1)
    for kind, at in [("forecast", earlier), ("forecast", T), ("drop_off_risk", T)]:
        with replace_snapshot(two_users, "predictive_analytics_cache", at, ["data"], scope={"analytics_type": kind}) as w:
            w.write(cache_rows(kind, at))
    with replace_snapshot(two_users, "predictive_analytics_cache", T, ["data"], scope={"analytics_type": "forecast"}) as w:
        assert w.delete_users(["u1"]) == 1  # u1's older forecast (this T's was deleted already)
        assert w.delete_users([]) == 0
        w.write(cache_rows("forecast", T).iloc[:1])
    with two_users.connect() as conn:
        rows = conn.execute(sa.text("select analytics_type, user_id, calculated_at = :t from predictive_analytics_cache "
                                    "order by 1, 2, 3"), {"t": T.to_pydatetime()}).all()
    assert [tuple(r) for r in rows] == [("drop_off_risk", "u1", True), ("drop_off_risk", "u2", True),
                                        ("forecast", "u1", True), ("forecast", "u2", False)]


def test_read_copy_types_nulls_parameters_and_fallback(two_users):
    sql = ("select id, email, full_name, created_at, 1.5::float8 as x, 7 as n, true as b "
           "from users where id <> :skip and email <> :quote order by id")
    with two_users.begin() as conn:
        conn.execute(sa.text("set local timezone = 'Asia/Kolkata'"))  # +05:30 text output
        got = read_copy(conn, sql, {"skip": "nobody", "quote": "it's"})
        slow = read_frame(conn, sql, {"skip": "nobody", "quote": "it's"})
        empty = read_copy(conn, "select id, created_at from users where id = :u", {"u": "none"})
        arrays = read_copy(conn, "select array['a', 'b'] as ids")
    assert list(got["id"]) == ["u1", "u2"]
    assert got["full_name"].isna().iloc[0] and got["full_name"].iloc[1] == ""  # NULL vs ''
    assert list(got["email"]) == ['a"b@x.org', "c,d@x.org"]
    assert str(got["created_at"].dtype) == "datetime64[us, UTC]"
    assert got["created_at"].iloc[0] == pd.Timestamp("2024-01-01T10:00:00.123456Z")
    assert str(got["x"].dtype) == "float64" and str(got["n"].dtype) == "int64"
    assert got["b"].tolist() == [True, True]
    pd.testing.assert_series_equal(got["created_at"], slow["created_at"].dt.tz_convert("UTC"))
    assert empty.empty and list(empty.columns) == ["id", "created_at"]
    assert arrays["ids"].iloc[0] == ["a", "b"]  # text[]: not a COPY type, read_frame



def test_a_load_analyzes_a_table_without_statistics_or_changed_by_a_tenth(engine):
    """bulk.analyze_if_stale: never analyzed -> analyzed; 1 % changed -> left alone; 20 % -> analyzed."""
    from analytics_pipeline.warehouse.bulk import analyze_if_stale

    def analyses() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text("select pg_stat_get_analyze_count('bulk_analyze_probe'::regclass)")).scalar_one()

    with engine.begin() as conn:
        conn.execute(sa.text("drop table if exists bulk_analyze_probe"))
        conn.execute(sa.text("create table bulk_analyze_probe as select g as id from generate_series(1, 1000) g"))
    assert analyze_if_stale(engine, {"bulk_analyze_probe": 1000, "no_such_table": 5}) == ["bulk_analyze_probe"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select reltuples from pg_class where relname = 'bulk_analyze_probe'")).scalar_one() == 1000
    counted = analyses()
    assert analyze_if_stale(engine, {"bulk_analyze_probe": 10}) == [] and analyses() == counted
    assert analyze_if_stale(engine, {"bulk_analyze_probe": 0}) == []
    assert analyze_if_stale(engine, {"bulk_analyze_probe": 200}) == ["bulk_analyze_probe"]
    with engine.begin() as conn:
        conn.execute(sa.text("drop table bulk_analyze_probe"))


_INDEXES = ("select indexname, indexdef from pg_indexes where tablename = any(:t) order by indexname")


def test_a_rebuild_drops_every_index_and_creates_them_again_exactly(clean_warehouse):
    from analytics_pipeline.warehouse.bulk import indexes_rebuilt_after
    tables = ["learner_daily_activity", "learner_daily_sessions"]
    with clean_warehouse.connect() as conn:
        before = conn.execute(sa.text(_INDEXES), {"t": tables}).all()
    assert any("pkey" in name for name, _ in before) and len(before) == 4
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("truncate learner_daily_activity, learner_daily_sessions"))
        with indexes_rebuilt_after(conn, tables) as dropped:
            during = conn.execute(sa.text(_INDEXES), {"t": tables}).all()
            conn.execute(sa.text("insert into learner_daily_sessions values "
                                 "('u1', '2024-01-01', '2024-01-01T10:00Z', '2024-01-01T10:05Z', 3, 2)"))
    with clean_warehouse.connect() as conn:
        after = conn.execute(sa.text(_INDEXES), {"t": tables}).all()
        assert conn.execute(sa.text("select count(*) from learner_daily_sessions")).scalar_one() == 1
    assert sorted(dropped) == sorted(name for name, _ in before) and during == []
    assert after == before


def test_a_duplicate_key_in_a_rebuild_fails_it_and_the_indexes_stay(clean_warehouse):
    from analytics_pipeline.warehouse.bulk import indexes_rebuilt_after
    tables = ["learner_daily_sessions"]
    with clean_warehouse.connect() as conn:
        before = conn.execute(sa.text(_INDEXES), {"t": tables}).all()
    row = "('u1', '2024-01-01', '2024-01-01T10:00Z', '2024-01-01T10:05Z', 3, 2)"
    with pytest.raises(sa.exc.IntegrityError, match="learner_daily_sessions_pkey"):
        with clean_warehouse.begin() as conn:
            conn.execute(sa.text("truncate learner_daily_sessions"))
            with indexes_rebuilt_after(conn, tables):
                conn.execute(sa.text(f"insert into learner_daily_sessions values {row}, {row}"))
    with clean_warehouse.connect() as conn:
        assert conn.execute(sa.text(_INDEXES), {"t": tables}).all() == before


def test_a_table_whose_key_a_foreign_key_needs_keeps_its_indexes(clean_warehouse):
    from analytics_pipeline.warehouse.bulk import indexes_rebuilt_after
    with clean_warehouse.begin() as conn:
        assert conn.execute(sa.text("select count(*) from pg_constraint where contype = 'f' "
                                    "and confrelid = 'users'::regclass")).scalar_one() > 0
        with indexes_rebuilt_after(conn, ["users"]) as dropped:
            assert dropped == []
        conn.rollback()


_KEYS = ("select conname, pg_get_constraintdef(oid), convalidated from pg_constraint "
         "where conrelid = cast(:t as regclass) and contype = 'f' order by conname")
_AWARD = ("insert into point_transactions (user_id, points, activity_type, source_id) "
          "values (:u, 5, 'content_completed', :o)")


def test_a_first_build_checks_its_foreign_key_once_after_the_rows(two_users):
    """point_transactions built from empty with foreign_keys: inside the body an award of no
    learner is not refused row by row (the key's trigger is skipped), and the key itself is
    unchanged; the rows are checked after the body; the session's role is origin again."""
    from analytics_pipeline.warehouse.bulk import indexes_built_after
    with two_users.connect() as conn:
        before = conn.execute(sa.text(_KEYS), {"t": "point_transactions"}).all()
    assert [name for name, _, _ in before] == ["point_transactions_user_id_fkey"]
    with two_users.begin() as conn:
        with indexes_built_after(conn, "point_transactions", foreign_keys=True) as bulk:
            conn.execute(sa.text(_AWARD), {"u": "u1", "o": "o1"})
            with conn.begin_nested():  # the trigger would refuse this row here
                conn.execute(sa.text(_AWARD), {"u": "nobody", "o": "o2"})
            assert conn.execute(sa.text(_KEYS), {"t": "point_transactions"}).all() == before
            conn.execute(sa.text("delete from point_transactions where user_id = 'nobody'"))
        role = conn.execute(sa.text("show session_replication_role")).scalar_one()
    with two_users.connect() as conn:
        assert conn.execute(sa.text(_KEYS), {"t": "point_transactions"}).all() == before
        assert conn.execute(sa.text("select user_id from point_transactions")).scalars().all() == ["u1"]
    assert bulk and role == "origin"


def test_a_first_build_row_without_its_learner_fails_the_check_and_rolls_back(two_users):
    from analytics_pipeline.warehouse.bulk import OrphanRowsError, indexes_built_after
    with pytest.raises(OrphanRowsError, match="1 row.*point_transactions_user_id_fkey"):
        with two_users.begin() as conn:
            with indexes_built_after(conn, "point_transactions", foreign_keys=True):
                conn.execute(sa.text(_AWARD), {"u": "u1", "o": "o1"})
                conn.execute(sa.text(_AWARD), {"u": "nobody", "o": "o2"})
    with two_users.connect() as conn:
        assert conn.execute(sa.text("select count(*) from point_transactions")).scalar_one() == 0
        assert conn.execute(sa.text("show session_replication_role")).scalar_one() == "origin"


def test_a_first_build_does_not_wait_for_someone_writing_the_learners(two_users):
    """users is being written by another open transaction (an erasure, a users load): the build takes
    no lock on users, so it neither waits nor fails."""
    from analytics_pipeline.warehouse.bulk import indexes_built_after
    with two_users.connect() as writer:
        writer.execute(sa.text("update users set full_name = 'x' where id = 'u2'"))  # ROW EXCLUSIVE, open
        with two_users.begin() as conn:
            conn.execute(sa.text("set local lock_timeout = '2s'"))
            with indexes_built_after(conn, "point_transactions", foreign_keys=True) as bulk:
                conn.execute(sa.text(_AWARD), {"u": "u1", "o": "o1"})
        writer.rollback()
    with two_users.connect() as conn:
        assert conn.execute(sa.text("select count(*) from point_transactions")).scalar_one() == 1
    assert bulk


def test_a_first_build_with_unique_keys_builds_them_after_the_rows(two_users):
    """unique_keys: inside the body the primary key and the unique origin are gone (an award twice
    is not refused there), after it they are back exactly (same names, same definitions); a
    duplicate that got in fails the key's creation and the build rolls back whole."""
    from analytics_pipeline.warehouse.bulk import indexes_built_after
    tables = ["point_transactions"]
    with two_users.connect() as conn:
        before = conn.execute(sa.text(_INDEXES), {"t": tables}).all()
    assert {"point_transactions_pkey", "point_transactions_activity_type_source_id_key"} <= {n for n, _ in before}
    with two_users.begin() as conn:
        with indexes_built_after(conn, "point_transactions", foreign_keys=True, unique_keys=True) as bulk:
            assert conn.execute(sa.text(_INDEXES), {"t": tables}).all() == []
            conn.execute(sa.text(_AWARD), {"u": "u1", "o": "o1"})
            conn.execute(sa.text(_AWARD), {"u": "u2", "o": "o2"})
    with two_users.connect() as conn:
        assert conn.execute(sa.text(_INDEXES), {"t": tables}).all() == before
        assert conn.execute(sa.text("select count(*) from point_transactions")).scalar_one() == 2
    assert bulk
    with pytest.raises(sa.exc.IntegrityError, match="point_transactions_activity_type_source_id_key"):
        with two_users.begin() as conn:
            conn.execute(sa.text("truncate point_transactions"))
            with indexes_built_after(conn, "point_transactions", unique_keys=True):
                conn.execute(sa.text(_AWARD), {"u": "u1", "o": "o1"})
                conn.execute(sa.text(_AWARD), {"u": "u2", "o": "o1"})  # the same origin twice
    with two_users.connect() as conn:
        assert conn.execute(sa.text(_INDEXES), {"t": tables}).all() == before
        assert conn.execute(sa.text("select count(*) from point_transactions")).scalar_one() == 2


def test_without_arbiter_removes_the_on_conflict_clause_only():
    from analytics_pipeline.warehouse.bulk import without_arbiter
    statement = ("-- a comment naming ON CONFLICT and RETURNING\n"
                 "INSERT INTO t (k, v)\n  SELECT k, v FROM s\n  ORDER BY k\n"
                 "  ON CONFLICT (k) DO UPDATE SET\n    v = EXCLUDED.v\n  WHERE t.v <> EXCLUDED.v\n"
                 "  RETURNING (xmax = 0) AS inserted")
    assert without_arbiter(statement) == ("-- a comment naming ON CONFLICT and RETURNING\n"
                                          "INSERT INTO t (k, v)\n  SELECT k, v FROM s\n  ORDER BY k\n"
                                          "  RETURNING (xmax = 0) AS inserted")
    assert without_arbiter("INSERT INTO t SELECT 1\nON CONFLICT DO NOTHING") == "INSERT INTO t SELECT 1\n"
    with pytest.raises(ValueError, match="found 0"):
        without_arbiter("INSERT INTO t SELECT 1 -- ON CONFLICT (k) DO NOTHING")
