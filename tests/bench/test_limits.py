"""The COPY limit's table has the shape of the real one: its indexes and its triggers, which fire
into empty copies of the tables they touch (a first load into a new warehouse), never the real ones."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from analytics_pipeline.bench.limits import LIMIT_SCHEMA, create_limit_table, timed_copy

COLUMNS = ["id", "user_id", "event_type", "occurred_at", "updated_at"]
ROWS = "e1,u1,started,2025-01-01 10:00:00+00,2025-01-01 10:00:00+00\ne2,u2,completed,2025-01-02 10:00:00+00,2025-01-02 10:00:00+00\n"


def _limit(engine, tmp_path, asof: str | None) -> dict:
    path = tmp_path / "events.csv"
    path.write_text(ROWS)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"drop schema if exists {LIMIT_SCHEMA} cascade")
        conn.exec_driver_sql(f"create schema {LIMIT_SCHEMA}")
        create_limit_table(conn, "learning_events")
        if asof:
            conn.execute(sa.text(f"insert into {LIMIT_SCHEMA}.learner_daily_activity_asof (asof) values (:a)"), {"a": asof})
        conn.commit()
        seconds = timed_copy(conn, "learning_events", COLUMNS, path)
        seen = {
            "rows": conn.execute(sa.text(f"select count(*) from {LIMIT_SCHEMA}.learning_events")).scalar_one(),
            "dirty": conn.execute(sa.text(f"select user_id from {LIMIT_SCHEMA}.learning_events_rollup_dirty order by 1")).scalars().all(),
            "real_dirty": conn.execute(sa.text("select count(*) from public.learning_events_rollup_dirty")).scalar_one(),
            "real_rows": conn.execute(sa.text("select count(*) from public.learning_events")).scalar_one(),
            "triggers": conn.execute(sa.text(
                "select count(*) from pg_trigger where tgrelid = cast(:t as regclass) and not tgisinternal"),
                {"t": f"{LIMIT_SCHEMA}.learning_events"}).scalar_one(),
            "indexes": conn.execute(sa.text("select count(*) from pg_indexes where schemaname = :s and tablename = 'learning_events'"),
                                    {"s": LIMIT_SCHEMA}).scalar_one(),
        }
        conn.exec_driver_sql(f"drop schema {LIMIT_SCHEMA} cascade")
        conn.commit()
    assert seconds > 0
    return seen


@pytest.mark.db
def test_the_limit_table_has_the_real_ones_indexes_and_triggers_writing_into_its_own_schema(clean_warehouse, tmp_path):
    with clean_warehouse.begin() as conn:  # the real rollup is built: were the limit's trigger to use it, it would mark
        conn.execute(sa.text("insert into learner_daily_activity_asof (asof) values ('2030-01-01')"))
        real = conn.execute(sa.text("select count(*) from pg_indexes where schemaname = 'public' and tablename = 'learning_events'")).scalar_one()
    first_load = _limit(clean_warehouse, tmp_path, asof=None)
    assert first_load == {"rows": 2, "dirty": [], "real_dirty": 0, "real_rows": 0, "triggers": 3, "indexes": real}
    # the same trigger, with the limit's own rollup built: it marks the cells, in the limit's schema only
    assert _limit(clean_warehouse, tmp_path, asof="2030-01-01")["dirty"] == ["u1", "u2"]


@pytest.mark.db
def test_the_keyed_limit_checks_the_real_tables_foreign_keys_against_the_dumps_parents(clean_warehouse, tmp_path):
    # LIKE ... INCLUDING ALL copies no foreign key: the keyed copy has them, against the parent's
    # limit table when the dump loaded it, so a row whose parent the dump lacks is refused
    from analytics_pipeline.bench.limits import DumpedTable, _keyed_copy, foreign_keys_of
    columns = ["id", "user_id", "skill_id", "mastery_level", "updated_at"]
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("s1,u1,k1,50,2025-01-01 10:00:00+00\n")
    bad.write_text("s1,u1,k1,50,2025-01-01 10:00:00+00\ns2,u9,k1,50,2025-01-01 10:00:00+00\n")
    with clean_warehouse.connect() as conn:
        conn.exec_driver_sql(f"drop schema if exists {LIMIT_SCHEMA} cascade")
        conn.exec_driver_sql(f"create schema {LIMIT_SCHEMA}")
        for parent, row in (("users", "('u1', 'u1@x.org', 'U One', now(), now())"),
                            ("skills", "('k1', 'SQL', 'data', 'beginner', now())")):
            create_limit_table(conn, parent)
            cols = "(id, email, full_name, created_at, updated_at)" if parent == "users" else \
                "(id, name, domain, level, updated_at)"
            conn.exec_driver_sql(f"insert into {LIMIT_SCHEMA}.{parent} {cols} values {row}")
        conn.commit()
        assert len(foreign_keys_of(conn, "user_skills")) == 2 and len(foreign_keys_of(conn, "learning_events")) == 0
    timed = _keyed_copy(clean_warehouse, "user_skills", DumpedTable("user_skills", columns, good, 1, 0))
    assert timed["seconds_with_keys"] > 0
    refused = _keyed_copy(clean_warehouse, "user_skills", DumpedTable("user_skills", columns, bad, 2, 0))
    assert "foreign key" in refused["keys_error"]
    assert _keyed_copy(clean_warehouse, "learning_events", DumpedTable("learning_events", [], good, 1, 0)) == {}
    with clean_warehouse.connect() as conn:  # the keyed copies are dropped after their COPY
        assert conn.execute(sa.text("select to_regclass(:t)"), {"t": f"{LIMIT_SCHEMA}.user_skills__keyed"}).scalar_one() is None
        conn.exec_driver_sql(f"drop schema {LIMIT_SCHEMA} cascade")
        conn.commit()
