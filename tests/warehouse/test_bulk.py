"""COPY writes and atomic snapshot replacement against the real PostgreSQL."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.warehouse.bulk import copy_frame, read_copy, read_frame, replace_snapshot

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
    with pytest.raises(Exception):
        with replace_snapshot(two_users, "mastery_analytics", T, json_columns=["skills", "mastery_distribution"]) as writer:
            writer.write(_mastery(["u1"], T, mastered=7))
            writer.write(_mastery(["no-such-user"], T))  # foreign key violation mid-snapshot
    with two_users.connect() as conn:
        values = conn.execute(sa.text("select mastered_skills from mastery_analytics where calculated_at = :t"), {"t": T.to_pydatetime()}).scalars().all()
    assert sorted(values) == [1, 1]


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
