"""Migrations apply once, record what ran, and refuse to touch a database that is not theirs."""
import pytest
import sqlalchemy as sa

from analytics_pipeline.warehouse.embedded import start_embedded
from analytics_pipeline.warehouse.engine import check_connection, make_engine
from analytics_pipeline.warehouse.errors import WarehouseError
from analytics_pipeline.warehouse.migrate import migrate, pending


def _schema_fingerprint(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "select count(*), string_agg(relname, ',' order by relname) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'")).one()


def test_applying_twice_changes_nothing_and_is_recorded(fresh_database_url):
    applied = migrate(fresh_database_url)
    assert applied and applied[0] == "0001_schema"
    engine = make_engine(fresh_database_url)
    before = _schema_fingerprint(engine)
    assert migrate(fresh_database_url) == []
    assert pending(fresh_database_url) == []
    assert _schema_fingerprint(engine) == before
    with engine.connect() as conn:
        recorded = conn.execute(sa.text("select migration_id from _yoyo_migration order by migration_id")).scalars().all()
    assert recorded == applied


def test_a_conflicting_table_stops_migration_and_destroys_nothing(fresh_database_url):
    engine = make_engine(fresh_database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table users (id int primary key, precious text)"))
        conn.execute(sa.text("insert into users values (1, 'keep me')"))
    with pytest.raises(WarehouseError, match="already has table"):
        migrate(fresh_database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select precious from users")).scalar_one() == "keep me"
        assert conn.execute(sa.text("select to_regclass('organizations')")).scalar_one() is None


def test_unreachable_database_gives_one_clear_message():
    with pytest.raises(WarehouseError) as info:
        check_connection("postgresql://nobody:secret@127.0.0.1:1/nowhere")
    message = str(info.value)
    assert "Cannot connect to the warehouse" in message and "DATABASE_URL" in message
    assert "secret" not in message  # the password is redacted


def test_a_url_that_is_not_postgres_is_refused():
    with pytest.raises(WarehouseError, match="must point at PostgreSQL"):
        check_connection("mysql://root@127.0.0.1/test")


def test_stale_data_folder_of_another_version_is_refused_untouched(tmp_path):
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("14\n")
    (pgdata / "base").mkdir()
    with pytest.raises(WarehouseError, match="PostgreSQL 14"):
        start_embedded(pgdata)
    assert (pgdata / "PG_VERSION").read_text() == "14\n" and (pgdata / "base").is_dir()


def test_a_folder_that_is_not_a_data_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WarehouseError, match="not a PostgreSQL data folder"):
        start_embedded(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
