"""The retention asset's work at T: stale rows planted in every table are gone, the rest stays."""
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.governance.store import apply_retention, expiry_problems, retention_violations
from analytics_pipeline.governance.policy import RETENTION_POLICY
from tests.governance.people import seed_people

T = pd.Timestamp.now(tz="UTC").normalize()


def _at(delta, extra=pd.Timedelta(0)) -> object:
    """T - delta - extra (delta may be a calendar offset)."""
    return (T - delta - extra).to_pydatetime()


def _count(conn, sql, **params):
    return conn.execute(sa.text(sql), params).scalar_one()


@pytest.fixture
def planted(clean_warehouse):
    engine = clean_warehouse
    seven_years = pd.DateOffset(years=7)
    with engine.begin() as conn:
        seed_people(conn, T.to_pydatetime())
        # partitions far in the past: one whole month 8 years back, and the months around T - 7 years
        for table in ("learner_velocity_analytics", "predictive_analytics_cache"):
            conn.execute(sa.text("select ensure_monthly_partitions(:t, :a, :b)"),
                         {"t": table, "a": _at(pd.DateOffset(years=8)), "b": _at(pd.DateOffset(years=8))})
            conn.execute(sa.text("select ensure_monthly_partitions(:t, :a, :b)"),
                         {"t": table, "a": _at(pd.DateOffset(years=7, months=1)), "b": _at(pd.DateOffset(years=6, months=11))})
        velocity = ("insert into learner_velocity_analytics (user_id, current_pace, target_pace, trend_direction, "
                    "trend_percentage, status, calculated_at, expires_at) values ('a1', 1, 1, 'stable', 0, 'on_track', :at, :at + interval '1 day')")
        for at in (_at(pd.DateOffset(years=8)), _at(seven_years, pd.Timedelta(days=1)), _at(seven_years, pd.Timedelta(days=-1))):
            conn.execute(sa.text(velocity.replace(":at + interval", "cast(:at as timestamptz) + interval")), {"at": at})
        predictive = ("insert into predictive_analytics_cache (user_id, analytics_type, data, calculated_at, expires_at) "
                      "values ('a2', :kind, '{}', :at, cast(:at as timestamptz) + interval '48 hours')")
        conn.execute(sa.text(predictive), {"kind": "drop_off_risk", "at": _at(pd.Timedelta(hours=49))})
        conn.execute(sa.text(predictive), {"kind": "recommendations", "at": _at(pd.Timedelta(hours=47))})
        conn.execute(sa.text(predictive), {"kind": "forecast", "at": _at(pd.DateOffset(years=8))})
        for days, tag in ((91, "old"), (89, "new")):
            at = _at(pd.Timedelta(days=days))
            conn.execute(sa.text("insert into learning_events (id, user_id, event_type, occurred_at, updated_at) "
                                 "values (:id, 'a1', 'started', :at, :at)"), {"id": f"le-{tag}", "at": at})
            conn.execute(sa.text("insert into assessment_results (id, user_id, assessment_id, score, passing_score, submitted_at, updated_at) "
                                 "values (:id, 'a1', 'x', 50, 60, :at, :at)"), {"id": f"ar-{tag}", "at": at})
            conn.execute(sa.text("insert into daily_activity (id, user_id, date, last_activity_at) values (:id, 'a1', :d, :at)"),
                         {"id": f"da-{tag}", "d": (T - pd.Timedelta(days=days)).date(), "at": at})
            conn.execute(sa.text("insert into quarantine (resource, reason, payload, quarantined_at) values ('learning_events', :tag, '{}', :at)"),
                         {"tag": tag, "at": at})
        for days, tag in ((400, "old"), (300, "kept")):
            conn.execute(sa.text("insert into point_transactions (id, user_id, points, activity_type, source_id, \"timestamp\") "
                                 "values (:id, 'a1', 25, 'assessment_passed', :id, :at)"), {"id": f"pt-{tag}", "at": _at(pd.Timedelta(days=days))})
    return engine


def test_policy_is_defined_once_and_covers_the_seed_table():
    rules = {r.table: r for r in RETENTION_POLICY.rules()}
    assert rules["predictive_analytics_cache"].cutoff(T) == T - pd.Timedelta(hours=48)
    assert rules["learning_events"].cutoff(T) == T - pd.Timedelta(days=90)
    assert rules["daily_activity"].cutoff_value(T) == (T - pd.Timedelta(days=90)).date()
    assert rules["mastery_analytics"].cutoff(pd.Timestamp("2032-03-15", tz="UTC")) == pd.Timestamp("2025-03-15", tz="UTC")
    assert rules["point_transactions"].action == "archive"
    assert {r.data_type for r in rules.values()} == {
        "Predictive cache", "Personal analytics (warm)", "User activity logs", "Point transactions"}
    with pytest.raises(ValueError):
        rules["users" if "users" in rules else "learning_events"].cutoff(pd.Timestamp("2025-01-01"))


def test_retention_removes_what_is_past_its_limit_and_nothing_else(planted):
    with planted.begin() as conn:
        points_before = conn.execute(sa.text("select user_id, total_points from user_points order by 1")).all()
        assert sum(retention_violations(conn, T).values()) > 0
        report = apply_retention(conn, T, run_id="test-run")
    with planted.connect() as conn:
        assert retention_violations(conn, T) == {rule.table: 0 for rule in RETENTION_POLICY.rules()}
        # activity logs: 91 days gone, 89 days kept (plus the seed's rows of today)
        assert _count(conn, "select count(*) from learning_events where id like 'le-%' and id in ('le-old')") == 0
        assert _count(conn, "select count(*) from learning_events where id = 'le-new'") == 1
        assert _count(conn, "select count(*) from assessment_results where id in ('ar-old', 'ar-new')") == 1
        assert _count(conn, "select count(*) from daily_activity where id in ('da-old', 'da-new')") == 1
        assert _count(conn, "select count(*) from quarantine where reason in ('old', 'new')") == 1
        # predictive cache: 49 h gone, 47 h kept
        kinds = set(conn.execute(sa.text("select analytics_type from predictive_analytics_cache where user_id = 'a2'")).scalars())
        assert kinds == {"recommendations", "forecast"}  # 47 h old, and the seed's row of today
        assert _count(conn, "select count(*) from predictive_analytics_cache where calculated_at < :c",
                      c=_at(pd.Timedelta(hours=48))) == 0
        assert _count(conn, "select count(*) from predictive_analytics_cache where analytics_type = 'recommendations'") == 1
        # personal analytics: older than 7 years gone (whole partitions dropped), younger kept
        cutoff = _at(pd.DateOffset(years=7))
        assert _count(conn, "select count(*) from learner_velocity_analytics where calculated_at < :c", c=cutoff) == 0
        assert _count(conn, "select count(*) from learner_velocity_analytics where user_id = 'a1'") == 2  # today + 7y-1d
        stale_partitions = conn.execute(sa.text(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'learner_velocity_analytics'::regclass and partition_upper_bound(c.oid) <= :c"), {"c": cutoff}).all()
        assert stale_partitions == []
        eight_years = (T - pd.DateOffset(years=8)).strftime("%Y_%m")
        assert _count(conn, "select count(*) from pg_class where relname = :n", n=f"learner_velocity_analytics_{eight_years}") == 0
        assert report["learner_velocity_analytics"]["partitions_dropped"]
        assert f"learner_velocity_analytics_{eight_years}" in report["learner_velocity_analytics"]["partitions_dropped"]
        # point transactions: archived after a year, totals untouched
        assert conn.execute(sa.text("select id from point_transactions where id like 'pt-%' order by id")).scalars().all() == [
            "pt-a1", "pt-a2", "pt-adm", "pt-b1", "pt-kept", "pt-t1"]
        archived = conn.execute(sa.text("select id, points, archived_at is not null from point_transactions_archive where id = 'pt-old'")).all()
        assert archived == [("pt-old", 25, True)]
        assert conn.execute(sa.text("select user_id, total_points from user_points order by 1")).all() == points_before
        assert _count(conn, "select count(*) from point_ledger_all where id = 'pt-old'") == 1
        # audit: one row per rule, counts only, no learner id anywhere in it
        audit = conn.execute(sa.text("select target_table, rows_affected, detail::text, run_id from governance_audit where action = 'retention'")).all()
        assert len(audit) == len(RETENTION_POLICY.rules())
        by_table = {row.target_table: row.rows_affected for row in audit}
        assert by_table["learning_events"] == 1 and by_table["point_transactions"] == 1
        assert by_table["learner_velocity_analytics"] == 2
        for row in audit:
            detail = json.loads(row[2])
            assert detail["as_of"] == T.isoformat()
            assert not any(person in row[2] for person in ('"a1"', '"a2"', "'a1'"))


def test_retention_twice_is_a_no_op(planted):
    with planted.begin() as conn:
        apply_retention(conn, T)
    with planted.begin() as conn:
        second = apply_retention(conn, T)
    assert all(entry["rows_removed"] == 0 for entry in second.values())


def test_expiry_constraint_and_check(clean_warehouse):
    with clean_warehouse.begin() as conn:
        seed_people(conn, T.to_pydatetime())
        problems, missing = expiry_problems(conn)
    assert all(n == 0 for n in problems.values())
    current_views = {f"{t}_current" for t in ("learner_velocity_analytics", "skill_gap_analytics", "engagement_analytics",
                                              "mastery_analytics", "performance_analytics", "content_effectiveness_analytics")}
    assert missing == [] and current_views <= set(problems)  # migration 0004 creates the six views
    with clean_warehouse.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("insert into mastery_analytics (user_id, mastered_skills, in_progress_skills, skills, "
                                 "mastery_distribution, calculated_at, expires_at) values ('a1', 0, 0, '[]', '{}', :at, :at)"),
                         {"at": T.to_pydatetime()})
        conn.rollback()
        # an expired row: the real current view (0004) does not serve it
        conn.execute(sa.text("insert into mastery_analytics (user_id, mastered_skills, in_progress_skills, skills, "
                             "mastery_distribution, calculated_at, expires_at) values ('a2', 0, 0, '[]', '{}', :a, :b)"),
                     {"a": _at(pd.Timedelta(days=3)), "b": _at(pd.Timedelta(days=2))})
        problems, missing = expiry_problems(conn)
        assert problems["mastery_analytics_current"] == 0 and missing == []
        # a current view that serves an expired row is caught (same columns, expiry filter dropped; rolled back)
        conn.execute(sa.text(
            "create or replace view mastery_analytics_current with (security_invoker = true) as "
            "select id, user_id, mastered_skills, in_progress_skills, skills, mastery_distribution, calculated_at, expires_at "
            "from mastery_analytics"))
        problems, missing = expiry_problems(conn)
        assert problems["mastery_analytics_current"] == 1 and "mastery_analytics_current" not in missing
        conn.rollback()
    with clean_warehouse.connect() as conn:  # the real view is back
        assert "expires_at > now()" in conn.execute(sa.text(
            "select pg_get_viewdef('mastery_analytics_current'::regclass)")).scalar_one()


def test_docs_name_every_table_of_the_policy():
    from analytics_pipeline.settings import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "governance.md").read_text()
    for rule in RETENTION_POLICY.rules():
        assert f"`{rule.table}`" in text or rule.table in ("learner_velocity_analytics", "skill_gap_analytics",
                                                           "engagement_analytics", "mastery_analytics",
                                                           "performance_analytics", "content_effectiveness_analytics")
    assert "six analytics tables" in text
