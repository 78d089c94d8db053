"""The migrated database holds the seed's whole schema (with the documented deviations)."""
import sqlalchemy as sa

from tests.warehouse.seed_schema import seed_indexes, seed_materialized_views, seed_tables

# docs/schema.md: deviations on purpose
NULLABLE_BY_DESIGN = {
    ("users", "password_hash"),
    ("performance_analytics", "avg_score"), ("performance_analytics", "pass_rate"), ("performance_analytics", "trend"),
    ("engagement_analytics", "last_active"),
}
TYPE_BY_DESIGN = {("learner_velocity_analytics", "target_pace"): "numeric(16,2)"}


def _columns(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull "
            "from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and a.attnum > 0 and not a.attisdropped and c.relkind in ('r','p','m')"
        )).all()
    found = {}
    for table, column, pg_type, nullable in rows:
        found.setdefault(table, {})[column] = (pg_type, nullable)
    return found


def test_seed_parser_reads_all_twenty_tables():
    tables = seed_tables()
    assert len(tables) == 20
    assert tables["learner_velocity_analytics"]["current_pace"] == ("numeric(5,2)", False)
    assert tables["daily_activity"]["date"] == ("date", False)


def test_every_seed_table_and_column_with_its_type(engine):
    found = _columns(engine)
    for table, columns in seed_tables().items():
        assert table in found, f"table {table} missing"
        for column, (pg_type, nullable) in columns.items():
            assert column in found[table], f"{table}.{column} missing"
            actual_type, actual_nullable = found[table][column]
            expected_type = TYPE_BY_DESIGN.get((table, column), pg_type)
            assert actual_type == expected_type, f"{table}.{column}: {actual_type} != seed {pg_type}"
            expected_nullable = nullable or (table, column) in NULLABLE_BY_DESIGN
            assert actual_nullable == expected_nullable, f"{table}.{column} nullability"


def test_every_index_of_the_seed_strategy(engine):
    with engine.connect() as conn:
        present = dict(conn.execute(sa.text("select indexname, tablename from pg_indexes where schemaname = 'public'")).all())
        present |= dict(conn.execute(sa.text(
            "select i.relname, t.relname from pg_index x join pg_class i on i.oid = x.indexrelid "
            "join pg_class t on t.oid = x.indrelid where t.relkind = 'm'")).all())
    for index, table in seed_indexes().items():
        assert present.get(index) == table, f"index {index} on {table} missing"


def test_four_materialized_views_each_with_a_unique_index(engine):
    views = seed_materialized_views()
    assert sorted(views) == ["leaderboard_monthly", "leaderboard_weekly", "peer_comparison_aggregates", "skill_demand_aggregates"]
    with engine.connect() as conn:
        for view in views:
            unique = conn.execute(sa.text(
                "select count(*) from pg_index x join pg_class t on t.oid = x.indrelid "
                "where t.relname = :v and t.relkind = 'm' and x.indisunique"), {"v": view}).scalar_one()
            assert unique >= 1, f"{view} has no unique index"
        for view in views:  # refreshable without blocking readers
            conn.execute(sa.text(f"refresh materialized view concurrently {view}"))


def test_unique_constraints_and_foreign_keys_of_the_seed(engine):
    with engine.connect() as conn:
        uniques = {tuple(r) for r in conn.execute(sa.text(
            "select conrelid::regclass::text, array_to_string(array(select attname from pg_attribute "
            "where attrelid = conrelid and attnum = any(conkey) order by array_position(conkey, attnum)), ',') "
            "from pg_constraint where contype = 'u'")).all()}
        fks = {tuple(r) for r in conn.execute(sa.text(
            "select conrelid::regclass::text, confrelid::regclass::text from pg_constraint where contype = 'f'")).all()}
    for table, columns in [("users", "email"), ("user_roles", "user_id,role"), ("enrollments", "user_id,course_id"),
                           ("user_skills", "user_id,skill_id"), ("user_achievements", "user_id,achievement_id"),
                           ("daily_activity", "user_id,date")]:
        assert (table, columns) in uniques
    for child, parent in [("users", "organizations"), ("user_roles", "users"), ("enrollments", "courses"),
                          ("user_skills", "skills"), ("learner_velocity_analytics", "users"), ("user_points", "users"),
                          ("point_transactions", "users"), ("user_achievements", "achievements"),
                          ("daily_activity", "users"), ("predictive_analytics_cache", "users"), ("user_preferences", "users")]:
        assert (child, parent) in fks, f"foreign key {child} -> {parent}"


def test_analytics_tables_are_partitioned_by_month(engine):
    with engine.connect() as conn:
        partitioned = set(conn.execute(sa.text(
            "select c.relname from pg_partitioned_table p join pg_class c on c.oid = p.partrelid")).scalars())
        children = conn.execute(sa.text(
            "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent "
            "where p.relname = 'engagement_analytics'")).scalar_one()
    assert {"learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics", "mastery_analytics",
            "performance_analytics", "content_effectiveness_analytics", "predictive_analytics_cache"} <= partitioned
    assert children >= 4  # the migration creates the last 3 months and 2 ahead
