"""The independent check (warehouse/independent_check.py) on the hand-built raw rows of raw.py:
what the pipeline publishes equals a second computation, one SQL statement over the raw tables,
learner by learner; a placeholder where there is no data is caught as a mismatch.

At T = 2025-03-13: u1 has events and results; u2 (two active enrollments) and u4 (enrolled
2025-03-12) have neither, so their performance scores and their last activity are NULL.
"""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.settings import load_settings
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.analytics.store import run_snapshot, update_activity_summary

from . import raw

T = raw.ts("2025-03-13")
CHECKED = ("velocity", "skill_gap", "engagement", "mastery", "performance", "content_effectiveness")


def publish(engine, names=CHECKED):
    raw.load(engine)
    update_activity_summary(engine, T)
    for name in names:
        run_snapshot(engine, name, T)


def test_every_published_learner_metric_equals_its_independent_computation(clean_warehouse):
    publish(clean_warehouse)
    for name in CHECKED:
        report = independent_check.check(clean_warehouse, name, T)
        assert report["passed"], independent_check.summary(report)
        assert report["compared"] == report["published"] == report["independent"] > 0, name
    with clean_warehouse.connect() as conn:
        nulls = conn.execute(sa.text(
            "select p.user_id from performance_analytics p join engagement_analytics e using (user_id, calculated_at) "
            "where p.avg_score is null and p.pass_rate is null and p.trend is null and e.last_active is null "
            "order by 1")).scalars().all()
    assert nulls == ["u2", "u4"]  # no result, no event: no measurement (issue 15, defects 1 and 3)


def test_a_placeholder_where_there_is_no_data_is_a_mismatch(clean_warehouse):
    publish(clean_warehouse, ("engagement", "performance"))
    with clean_warehouse.begin() as conn:
        zeroed = conn.execute(sa.text(
            "update performance_analytics set avg_score = 0, pass_rate = 0 where assessments_taken = 0 "
            "returning user_id")).scalars().all()
        enrolled = conn.execute(sa.text(
            "update engagement_analytics e set last_active = (select max(enrolled_at) from enrollments n "
            "where n.user_id = e.user_id) where last_active is null returning user_id")).scalars().all()
    assert sorted(zeroed) == sorted(enrolled) == ["u2", "u4"]

    performance = independent_check.check(clean_warehouse, "performance", T)
    assert not performance["passed"]
    assert performance["mismatching"] == ["u2", "u4"]
    assert performance["columns"]["avg_score"]["mismatches"] == 2
    assert performance["columns"]["pass_rate"]["mismatches"] == 2
    assert performance["columns"]["assessments_taken"]["mismatches"] == 0
    engagement = independent_check.check(clean_warehouse, "engagement", T)
    assert engagement["mismatching"] == ["u2", "u4"]
    assert engagement["columns"]["last_active"]["mismatches"] == 2
    assert "2 mismatching" in independent_check.summary(engagement)


def test_a_wrong_value_and_a_missing_learner_are_reported(clean_warehouse):
    publish(clean_warehouse, ("velocity",))
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("update learner_velocity_analytics set status = 'on_track', target_pace = target_pace + 1 "
                             "where user_id = 'u1'"))
        conn.execute(sa.text("delete from learner_velocity_analytics where user_id = 'u4'"))
    report = independent_check.check(clean_warehouse, "velocity", T)
    assert report["mismatching"] == ["u1", "u4"]
    assert report["only_independent"] == ["u4"] and report["only_published_count"] == 0
    assert report["columns"]["target_pace"]["mismatches"] == 1
    assert report["columns"]["status"]["examples"][0]["key"] == "u1"


def test_a_broken_check_is_a_failed_report_not_an_error(clean_warehouse):
    raw.load(clean_warehouse)
    with clean_warehouse.begin() as conn:  # the published table gone: the check cannot read it
        conn.execute(sa.text("alter table mastery_analytics rename to mastery_analytics_moved"))
    try:
        report = independent_check.check_or_error(clean_warehouse, "mastery", T)
    finally:
        with clean_warehouse.begin() as conn:
            conn.execute(sa.text("alter table mastery_analytics_moved rename to mastery_analytics"))
    assert report["passed"] is False and "mastery_analytics" in report["error"]
    assert "the check failed" in independent_check.summary(report)


def test_a_check_that_runs_too_long_is_cancelled_and_says_so(clean_warehouse):
    publish(clean_warehouse, ("velocity",))
    with clean_warehouse.connect() as blocker:  # another session holds the raw table: the check waits
        blocker.execute(sa.text("lock table learning_events in access exclusive mode"))
        started = pd.Timestamp.now()
        report = independent_check.check_or_error(clean_warehouse, "velocity", T, timeout_seconds=0.5)
        waited = (pd.Timestamp.now() - started).total_seconds()
        blocker.rollback()
    assert report["passed"] is False and report["compared"] == 0
    assert "did not finish within 0.5 s" in report["error"]
    assert "INDEPENDENT_CHECK_TIMEOUT_SECONDS" in report["error"]
    assert waited < 30  # cancelled, not waiting for the lock
    # without a limit the same check runs to the end once the table is free
    assert independent_check.check_or_error(clean_warehouse, "velocity", T, timeout_seconds=0.5)["passed"]


def test_no_unexpired_snapshot_means_no_peer_group(clean_warehouse):
    raw.load(clean_warehouse)
    assert independent_check.latest_snapshot_instant(clean_warehouse) is None
    report = independent_check.check(clean_warehouse, "peer_comparison", None)
    assert report["passed"] and report["published"] == 0
    assert isinstance(pd.Timestamp(report["snapshot_instant"]), pd.Timestamp)


# 5 users (u1..u5). At most 3 compared: 1 in ceil(5 / 3) = 2, the learners whose PostgreSQL
# hashtext is even: u1, u2, u3 (u4 and u5 are left out).
SAMPLE = {"u1", "u2", "u3"}


def test_the_hash_sample_is_deterministic_and_what_the_report_says(clean_warehouse):
    raw.load(clean_warehouse)
    with clean_warehouse.connect() as conn:
        inside = conn.execute(sa.text(
            f"select id from users where {independent_check.in_sample('id', 2)} order by id")).scalars().all()
    assert set(inside) == SAMPLE
    sample = independent_check.learner_sample(clean_warehouse, 3)
    assert (sample.every, sample.learners, sample.sampled) == (2, 5, 3)
    assert sample.as_dict()["fraction"] == 0.6
    # the statement itself is restricted where it forms its learner set; group checks are not,
    # except peer comparison: the learners of a hash sample of organizations, as an id array
    assert "hashtext(le.user_id)" in independent_check.statement("velocity", 2)
    assert "hashtext" not in independent_check.statement("velocity", 1)
    assert "hashtext" not in independent_check.statement("skill_demand", 2)
    peers = independent_check.statement("peer_comparison", 2)
    assert "hashtext" not in peers and "{sample:" not in peers
    assert "u.id = any(cast(:sample_learners as text[]))" in peers
    assert "any(" not in independent_check.statement("peer_comparison", 1)
    assert "{sample:" not in independent_check.statement("content_effectiveness", 2)


def test_a_large_platform_is_checked_on_a_sample_restricting_both_sides(clean_warehouse):
    publish(clean_warehouse)
    for name in CHECKED:
        everyone = independent_check.check(clean_warehouse, name, T)
        report = independent_check.check(clean_warehouse, name, T, max_learners=3)
        assert report["passed"], independent_check.summary(report)
        assert report["sample"] == {"every": 2, "learners": 5, "sampled_learners": 3, "fraction": 0.6}
        assert "sampled 3 of 5 learners (1 in 2, 60.0%)" in independent_check.summary(report)
        published = set(independent_check.published_rows(clean_warehouse, name, T)["user_id"])
        sampled_published = set(independent_check.published_rows(clean_warehouse, name, T, 2)["user_id"])
        sampled_independent = set(independent_check.independent_rows(clean_warehouse, name, T, 2)["user_id"])
        # both sides hold exactly the sampled learners, and fewer than everyone (u4 is published
        # by every category here and left out of the sample)
        assert sampled_published == sampled_independent == published & SAMPLE, name
        assert "u4" in published and report["compared"] == len(sampled_published) < everyone["compared"], name


def test_a_mismatch_inside_the_sample_is_found(clean_warehouse):
    publish(clean_warehouse, ("velocity",))
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text("update learner_velocity_analytics set target_pace = target_pace + 1 "
                             "where user_id in ('u1', 'u4')"))
        conn.execute(sa.text("delete from learner_velocity_analytics where user_id = 'u2'"))
    report = independent_check.check(clean_warehouse, "velocity", T, max_learners=3)
    assert not report["passed"]
    assert report["mismatching"] == ["u1", "u2"]          # u4 is outside the sample: not compared
    assert report["only_independent"] == ["u2"]
    assert report["columns"]["target_pace"]["mismatches"] == 1
    everyone = independent_check.check(clean_warehouse, "velocity", T)
    assert everyone["mismatching"] == ["u1", "u2", "u4"] and everyone["sample"] is None


def test_a_small_platform_compares_every_learner(clean_warehouse):
    publish(clean_warehouse, ("velocity",))
    for bound in (5, 5000, 0, None):  # 5 users: at most 5 (or no bound) compares everyone
        assert independent_check.learner_sample(clean_warehouse, bound).complete
        report = independent_check.check_or_error(clean_warehouse, "velocity", T, bound)
        assert report["sample"] is None and report["compared"] == 3  # u1, u2, u4
        assert independent_check.learners_compared(report) == "every learner"
    assert load_settings().independent_check_learners == 5000
    assert independent_check.nightly_max_learners() == 5000


def test_the_compared_keys_are_the_key_columns_joined_and_a_missing_one_is_an_error():
    """The keys are built column by column (vectorised): the same strings as joining each row's key
    values with "|", across key types, and a group that differs in one key column is another key."""
    frame = pd.DataFrame({"organization_id": ["org-1", "org-1", "org-2"], "competency_level": ["expert", "novice", "expert"],
                          "n": [1, 2, 3]})
    keys = ("organization_id", "competency_level", "n")
    assert independent_check._key_strings(frame, keys).tolist() == ["org-1|expert|1", "org-1|novice|2", "org-2|expert|3"]
    report = independent_check.compare({"n": ("num", 0)}, frame, frame.iloc[[0, 2]], keys[:2])
    assert report["only_published"] == ["org-1|novice"] and report["compared"] == 2
    with pytest.raises(ValueError, match="missing in 1 rows"):
        independent_check._key_strings(frame.assign(competency_level=["expert", None, "expert"]), keys)


#: a published value of a learner corrupted per check whose statement reads the sample's events
#: (issue 18, the checks' statements reshaped: one bitmap scan of the learners' events, literal T
#: bounds, their own transaction settings)
CORRUPTED = {
    "engagement": "update engagement_analytics set overall_score = overall_score + 1",
    "performance": "update performance_analytics set avg_score = coalesce(avg_score, 0) + 1",
    "velocity": "update learner_velocity_analytics set current_pace = current_pace + 1",
    "content_effectiveness": "update content_effectiveness_analytics set most_effective = "
                             """'[{"kind": "type", "contentType": "video", "effect": 99.0}]'::jsonb""",
}


@pytest.mark.parametrize("name", sorted(CORRUPTED))
def test_a_corrupted_value_is_caught_by_the_sample_scan_checks(clean_warehouse, name):
    publish(clean_warehouse, (name, "skill_gap") if name == "content_effectiveness" else (name,))
    assert independent_check.CHECKS[name].settings == independent_check.SAMPLE_SCAN_SETTINGS
    assert independent_check.check(clean_warehouse, name, T, max_learners=3)["passed"]
    with clean_warehouse.begin() as conn:
        conn.execute(sa.text(CORRUPTED[name] + " where user_id in ('u1', 'u4')"))
    report = independent_check.check(clean_warehouse, name, T, max_learners=3)
    assert not report["passed"]
    assert report["mismatching"] == ["u1"]      # u4 is outside the sample: not compared
    everyone = independent_check.check(clean_warehouse, name, T)
    assert everyone["mismatching"] == ["u1", "u4"]


def _plan(engine, name: str, every: int, settings=()) -> str:
    """EXPLAIN (costs off) of check ``name``'s sampled statement at T, with ``settings``."""
    with engine.connect() as conn:
        for setting, value in settings:
            conn.execute(sa.text(f"set local {setting} = '{value}'"))
        rows = conn.execute(sa.text("explain (costs off) " + independent_check.statement(name, every)),
                            independent_check._params(T)).scalars().all()
    return "\n".join(rows)


def test_the_engagement_statement_sorts_the_recent_events_once(clean_warehouse):
    """Issue 18 (branch eng4): the session marks take the neighbours' window order (one sort of
    the recent events by learner and time, not one per window pass), and the learner ids sort in
    the "C" collation (memcmp, abbreviated keys) instead of the database's."""
    publish(clean_warehouse, ("engagement",))
    plan = _plan(clean_warehouse, "engagement", 3, independent_check.SAMPLE_SCAN_SETTINGS)
    event_sorts = [line for line in plan.splitlines() if "Sort Key:" in line and "occurred_at" in line]
    assert len(event_sorts) == 1, plan
    assert 'COLLATE "C"' in event_sorts[0]
    assert independent_check.check(clean_warehouse, "engagement", T, max_learners=3)["passed"]


def test_the_performance_statement_reads_the_sampled_users_results_by_their_ids(clean_warehouse):
    """Issue 18 (branch eng4): the results of the sample's directory users by their ids as one
    array (at M one bitmap scan of the (user_id, submitted_at) index), instead of every result of
    the window by submitted_at, filtered by the sample and joined to users per result (62,000
    users probes at M)."""
    publish(clean_warehouse, ("performance",))
    plan = _plan(clean_warehouse, "performance", 3, independent_check.SAMPLE_SCAN_SETTINGS)
    # the results restricted by the array of ids (an index condition at M's size, a filter on
    # these few rows), and users read once for that array, never joined with the results
    assert "user_id = ANY ($0)" in plan, plan
    assert not any(join in plan for join in ("u.id = ar.user_id", "ar.user_id = u.id",
                                             "(id = ar.user_id)")), plan
    assert independent_check.check(clean_warehouse, "performance", T, max_learners=3)["passed"]
