"""bulk.ArrowReader / read_arrow: ADBC's binary COPY on a second connection, with read_copy's frames
and the snapshot of the caller's transaction, against the real PostgreSQL."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.warehouse.bulk import ArrowReader, copy_frame, read_arrow, read_copy

# every type of the column contract, with nulls, '' vs NULL, NaN and infinities, numeric, an
# all-null timestamptz, a quoted parameter; the users' rows are committed ones
EVERY_TYPE = """
select u.id, u.email, u.full_name, u.created_at, v.*
from users u
join (values
  ('u1', 1::int2, 10::int4, 100::int8, 7::int8, 0.1::float4, 0.1::float8, 12345.678901234567890123::numeric,
   1.5::numeric(10, 2), true, true, 'x'::varchar, 'y'::char(3), '2024-01-01 00:00:00'::timestamp, '2024-01-01'::date,
   null::timestamptz, cast(:quote as text)),
  ('u2', null, null, null, -7, 'NaN'::float4, 'Infinity'::float8, 'NaN'::numeric, null, false, null, '', null,
   null, null, null, '')
) v(vid, i2, i4, i8, i8_full, f4, f8, num, num2, b_full, b_null, vc, bp, ts, d, tz_null, quoted)
  on v.vid = u.id
where u.id <> :skip
"""


@pytest.fixture
def two_users(clean_warehouse):
    _add_user(clean_warehouse, "u1", None)
    _add_user(clean_warehouse, "u2", "")
    return clean_warehouse


def _add_user(engine, user_id, full_name):
    with engine.begin() as conn:
        copy_frame(conn, "users", pd.DataFrame({
            "id": [user_id], "email": [f'{user_id}"q,@x.org'], "full_name": [full_name],
            "created_at": [pd.Timestamp("2024-01-01T10:00:00.123456Z")]}))


def _sorted(frame):
    return frame.sort_values("id").reset_index(drop=True)


def test_read_arrow_gives_read_copys_frame_for_every_type_nulls_and_no_rows(two_users):
    params = {"skip": "nobody", "quote": "it's"}
    with two_users.begin() as conn, ArrowReader(conn) as read:
        conn.execute(sa.text("set local timezone = 'Asia/Kolkata'"))
        got, expected = read(EVERY_TYPE, params), read_copy(conn, EVERY_TYPE, params)
        none = read(EVERY_TYPE + " and false", params)
        assert read(EVERY_TYPE, params).shape == got.shape  # the reader's connection serves many reads
    pd.testing.assert_frame_equal(_sorted(got), _sorted(expected))
    pd.testing.assert_frame_equal(none, read_copy_of_no_rows(two_users, params))
    got = _sorted(got)
    assert {c: str(got[c].dtype) for c in ("i2", "i4", "i8", "i8_full", "f4", "num", "b_full", "created_at", "tz_null")} == {
        "i2": "float64", "i4": "float64", "i8": "float64", "i8_full": "int64", "f4": "float64", "num": "float64",
        "b_full": "bool", "created_at": "datetime64[us, UTC]", "tz_null": "datetime64[us, UTC]"}
    assert got["f4"].iloc[0] == 0.1 and got["num"].iloc[0] == 12345.678901234567  # float4 as its text; numeric
    assert got["full_name"].isna().iloc[0] and got["full_name"].iloc[1] == "" and got["vc"].iloc[1] == ""
    assert got["quoted"].tolist() == ["it's", ""] and got["bp"].iloc[0] == "y  "
    assert list(none.columns) == list(got.columns) and (none.dtypes == object).all()


def read_copy_of_no_rows(engine, params):
    with engine.connect() as conn:
        return read_copy(conn, EVERY_TYPE + " and false", params)


def test_read_arrow_sees_the_snapshot_of_the_callers_transaction(two_users):
    """Under REPEATABLE READ a row another session committed after the caller's snapshot is not
    seen (the snapshot is imported); under READ COMMITTED it is, as by read_copy."""
    sql = "select id from users order by id"
    repeatable = two_users.connect().execution_options(isolation_level="REPEATABLE READ")
    committed = two_users.connect()
    with repeatable, committed:
        assert read_arrow(repeatable, sql)["id"].tolist() == ["u1", "u2"]  # the snapshot is taken
        read_arrow(committed, sql)
        _add_user(two_users, "u3", "late")
        assert read_arrow(repeatable, sql)["id"].tolist() == ["u1", "u2"]
        pd.testing.assert_frame_equal(read_arrow(repeatable, sql), read_copy(repeatable, sql))
        assert read_arrow(committed, sql)["id"].tolist() == ["u1", "u2", "u3"]
    with two_users.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
        assert read_arrow(auto, sql)["id"].tolist() == ["u1", "u2", "u3"]  # no transaction to share


def test_other_types_fall_back_and_a_savepoint_reads_through_copy(two_users):
    sql = "select id, array[id, 'b'] as ids, interval '1 day' as span from users order by id"
    with two_users.begin() as conn:
        got = read_arrow(conn, sql)
        assert got["ids"].tolist() == [["u1", "b"], ["u2", "b"]]  # text[]: not in the contract, read_frame
        pd.testing.assert_frame_equal(got, read_copy(conn, sql))
        with conn.begin_nested():  # no snapshot can be exported from a subtransaction
            conn.execute(sa.text("update users set full_name = 'mine' where id = 'u1'"))
            assert read_arrow(conn, "select full_name from users where id = 'u1'")["full_name"].tolist() == ["mine"]


def test_read_arrow_cannot_see_the_callers_temp_tables(two_users):
    with two_users.begin() as conn:
        conn.execute(sa.text("create temp table mine as select id from users"))
        with pytest.raises(Exception, match="mine"):
            read_arrow(conn, "select id from mine")
