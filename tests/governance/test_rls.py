"""Row-level security as the `authenticated` role with JWT claims, never as the owner."""
import pandas as pd
import pytest
import sqlalchemy as sa
from psycopg import errors as pg_errors

from tests.governance.people import EXPECTED, as_authenticated, seed_people

AT = pd.Timestamp.now(tz="UTC").normalize().to_pydatetime()
MALFORMED = [
    None,                                   # no claims at all
    "",                                     # empty setting
    "{not json",                            # not JSON
    "[]",                                   # JSON, not an object
    '"a1"',                                 # a bare JSON string
    "{}",                                   # no sub
    '{"role": "authenticated"}',            # no sub
    '{"sub": null}',
    '{"sub": ""}',
    '{"sub": {"id": "a1"}}',                # sub not a string
    '{"sub": ["a1"]}',
    '{"sub": 1}',
]
FORGED = [
    '{"sub": "x\' OR \'1\'=\'1"}',          # forged sub (SQL injection attempt)
    '{"sub": "a1\'; --"}',
    '{"sub": "A1"}',                        # ids are case-sensitive
    '{"sub": "%"}',
    '{"sub": "a1 "}',
]


@pytest.fixture
def cast_warehouse(clean_warehouse):
    with clean_warehouse.begin() as conn:
        seed_people(conn, AT)
    return clean_warehouse


@pytest.fixture
def governed_tables(cast_warehouse):
    with cast_warehouse.connect() as conn:
        return conn.execute(sa.text("select table_name, learner_column from per_learner_tables()")).all()


def visible(engine, claims, table, column):
    with engine.connect() as conn, conn.begin():
        as_authenticated(conn, claims)
        return set(conn.execute(sa.text(f'select "{column}" from "{table}"')).scalars())


def test_every_per_learner_table_listed_has_rls_and_the_three_policies(cast_warehouse, governed_tables):
    names = {t for t, _ in governed_tables}
    assert names >= {
        "learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics", "mastery_analytics",
        "performance_analytics", "content_effectiveness_analytics", "predictive_analytics_cache", "user_points",
        "point_transactions", "point_transactions_archive", "user_achievements", "daily_activity", "user_preferences",
        "users", "user_roles", "enrollments", "user_skills", "assessment_results", "learning_events",
    }
    with cast_warehouse.connect() as conn:
        rows = conn.execute(sa.text(
            "select c.relname, c.relrowsecurity, c.relforcerowsecurity, count(p.oid) from pg_class c "
            "left join pg_policy p on p.polrelid = c.oid where c.relname = any(:t) group by 1, 2, 3"), {"t": list(names)}).all()
    assert len(rows) == len(names)
    for name, rls, forced, policies in rows:
        assert rls and not forced and policies == 3, name


def test_every_table_with_a_user_id_column_is_governed_or_unreadable(cast_warehouse, governed_tables):
    with cast_warehouse.connect() as conn:
        tables = conn.execute(sa.text(
            "select distinct c.relname from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and a.attname = 'user_id' "
            "and c.relkind in ('r', 'p') and not c.relispartition")).scalars().all()
        readable = {t for t in tables if conn.execute(
            sa.text("select has_table_privilege('authenticated', :t, 'SELECT')"), {"t": t}).scalar_one()}
    governed = {t for t, _ in governed_tables}
    assert "erasure_requests" in tables and "erasure_requests" not in readable
    assert readable <= governed, readable - governed


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_each_persona_sees_exactly_what_the_policies_allow(cast_warehouse, governed_tables, persona):
    claims = '{"sub": "%s", "role": "authenticated"}' % persona
    for table, column in governed_tables:
        assert visible(cast_warehouse, claims, table, column) == EXPECTED[persona], f"{persona} in {table}"


@pytest.mark.parametrize("claims", MALFORMED + FORGED)
def test_no_claims_malformed_or_forged_claims_see_nothing_and_never_error(cast_warehouse, governed_tables, claims):
    for table, column in governed_tables:
        assert visible(cast_warehouse, claims, table, column) == set(), f"{claims!r} in {table}"
    with cast_warehouse.connect() as conn, conn.begin():
        as_authenticated(conn, claims)
        if claims in MALFORMED:
            assert conn.execute(sa.text("select auth.uid()")).scalar_one() is None
            assert conn.execute(sa.text("select count(*) from app_visible_user_ids()")).scalar_one() == 0
        assert conn.execute(sa.text("select count(*) from courses")).scalar_one() == 0
        assert conn.execute(sa.text("select count(*) from organizations")).scalar_one() == 0


def test_views_apply_the_callers_policies(cast_warehouse):
    with cast_warehouse.connect() as conn, conn.begin():
        as_authenticated(conn, '{"sub": "a1"}')
        ledger = conn.execute(sa.text("select user_id, id from point_ledger_all order by id")).all()
    assert ledger == [("a1", "pt-a1"), ("a1", "pta-a1")]


def test_catalogs_courses_and_organisation(cast_warehouse):
    with cast_warehouse.connect() as conn, conn.begin():
        as_authenticated(conn, '{"sub": "b1"}')
        assert set(conn.execute(sa.text("select id from courses")).scalars()) == {"c3"}
        assert set(conn.execute(sa.text("select id from organizations")).scalars()) == {"o2"}
        assert conn.execute(sa.text("select count(*) from skills")).scalar_one() >= 5


def test_authenticated_cannot_write_anything(cast_warehouse, governed_tables):
    tables = [t for t, _ in governed_tables] + ["courses", "organizations", "skills", "pipeline_settings",
                                                  "governance_audit", "erasure_requests"]
    with cast_warehouse.connect() as conn, conn.begin():
        as_authenticated(conn, '{"sub": "adm"}')
        for table in tables:
            column = conn.execute(sa.text(
                "select attname from pg_attribute where attrelid = to_regclass(:t) and attnum = 1"), {"t": table}).scalar_one()
            for statement in (f'insert into "{table}" default values', f'update "{table}" set "{column}" = "{column}"',
                              f'delete from "{table}"', f'truncate "{table}"'):
                with pytest.raises(sa.exc.ProgrammingError) as raised, conn.begin_nested():
                    conn.execute(sa.text(statement))
                assert isinstance(raised.value.orig, pg_errors.InsufficientPrivilege), statement


def test_authenticated_cannot_run_the_pipelines_functions(cast_warehouse):
    with cast_warehouse.connect() as conn, conn.begin():
        as_authenticated(conn, '{"sub": "adm"}')
        for call in ("select erase_learners(array['a1'])", "select process_erasure_requests(null)",
                     "select governance_enforce_access()", "select drop_partitions_before('users', now())",
                     "select ensure_monthly_partitions('learner_velocity_analytics', now(), now())",
                     "select leaderboard_entry_id('weekly', current_date, 'a1')", "select erasure_subject_hash('a1')",
                     "select * from quarantine", "select * from erasure_requests"):
            with pytest.raises(sa.exc.ProgrammingError) as raised, conn.begin_nested():
                conn.execute(sa.text(call))
            assert isinstance(raised.value.orig, pg_errors.InsufficientPrivilege), call
    # any function of any layer (later migrations included) that may change data is the pipeline's:
    # authenticated may execute STABLE/IMMUTABLE functions only (they cannot write)
    with cast_warehouse.connect() as conn:
        executable_volatile = conn.execute(sa.text(
            "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname in ('public', 'auth') and p.prokind = 'f' and p.provolatile = 'v' "
            "and has_function_privilege('authenticated', p.oid, 'EXECUTE') "
            "and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')")).scalars().all()
    assert executable_volatile == []


def test_leaderboards_are_readable_only_while_masked(cast_warehouse):
    """0005 masks the leaderboards (hidden learners left out), so access_control grants them; a learner who
    turns hidden after the last refresh makes the board withheld until it is refreshed."""
    with cast_warehouse.connect() as conn:
        conn.execute(sa.text("update user_preferences set leaderboard_privacy = 'anonymous' where user_id = 'a2'"))
        conn.execute(sa.text("update user_preferences set leaderboard_privacy = 'hidden' where user_id = 'b1'"))
        conn.execute(sa.text("refresh materialized view leaderboard_weekly"))
        conn.execute(sa.text("select governance_enforce_access()"))
        conn.execute(sa.text("savepoint masked"))
        as_authenticated(conn, '{"sub": "a1"}')
        rows = conn.execute(sa.text("select user_id, is_anonymous from leaderboard_weekly")).all()
        assert sorted(rows, key=str) == sorted([("a1", False), ("t1", False), ("adm", False), (None, True)], key=str)
        conn.execute(sa.text("rollback to savepoint masked"))
        # a1 turns hidden: the board still holds a1 until its next refresh, so it is withheld
        conn.execute(sa.text("update user_preferences set leaderboard_privacy = 'hidden' where user_id = 'a1'"))
        assert "leaderboard_weekly" in conn.execute(sa.text(
            "select governance_enforce_access() -> 'materialized_views_withheld'")).scalar_one()
        as_authenticated(conn, '{"sub": "a1"}')
        with pytest.raises(sa.exc.ProgrammingError) as raised:
            conn.execute(sa.text("select * from leaderboard_weekly"))
        assert isinstance(raised.value.orig, pg_errors.InsufficientPrivilege)
        conn.rollback()  # grants are transactional: the session database keeps its state


def test_partitions_cannot_be_read_directly(cast_warehouse):
    with cast_warehouse.connect() as conn:
        partition = conn.execute(sa.text(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'learner_velocity_analytics'::regclass limit 1")).scalar_one()
        conn.rollback()
        with conn.begin():
            as_authenticated(conn, '{"sub": "adm"}')
            with pytest.raises(sa.exc.ProgrammingError):
                conn.execute(sa.text(f'select * from "{partition}"'))


def test_nothing_readable_bypasses_the_policies(cast_warehouse):
    with cast_warehouse.connect() as conn:
        assert conn.execute(sa.text("select * from governance_exposure_problems()")).all() == []
        # a view created later without security_invoker is caught, then fixed by the access_control step
        conn.execute(sa.text("create view gov_probe_view as select user_id from learning_events"))
        conn.execute(sa.text("grant select on gov_probe_view to authenticated"))
        problems = conn.execute(sa.text("select object_name from governance_exposure_problems()")).scalars().all()
        assert problems == ["gov_probe_view"]
        conn.execute(sa.text("select governance_enforce_access()"))
        assert conn.execute(sa.text("select * from governance_exposure_problems()")).all() == []
        conn.rollback()
