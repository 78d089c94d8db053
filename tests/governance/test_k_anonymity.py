"""k-anonymity of the published aggregates (views refreshed in SQL here; the check functions on results)."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.governance.kanon import k_anonymity_verdict
from analytics_pipeline.governance.store import apply_access_control, k_anonymity_result
from analytics_pipeline.governance.kanon import effective_k, groups_below_k

T = pd.Timestamp.now(tz="UTC").normalize().to_pydatetime()


def test_groups_below_k_pure():
    frame = pd.DataFrame({"organization_id": ["o1", "o2", "o3", "o4"], "sample_size": [3, 5, 12, None]})
    assert groups_below_k(frame, "sample_size", 5)["organization_id"].tolist() == ["o1", "o4"]
    assert groups_below_k(frame, "sample_size", 2)["organization_id"].tolist() == ["o1", "o4"]  # k never below 5
    assert groups_below_k(frame, "sample_size", 10)["organization_id"].tolist() == ["o1", "o2", "o4"]
    assert effective_k(0) == 5 and effective_k(10) == 10
    with pytest.raises(KeyError):
        groups_below_k(frame, "learner_count", 5)


def test_check_fails_on_a_planted_small_group_and_passes_without_it():
    published = pd.DataFrame({"organization_id": ["o1", "o2"], "competency_level": ["beginner"] * 2, "sample_size": [12, 3]})
    passed, metadata = k_anonymity_verdict(published, "sample_size", 5)
    assert not passed and metadata["groups_below_k"] == 1 and metadata["smallest_group"] == 3
    assert k_anonymity_verdict(published.iloc[:1], "sample_size", 5)[0]
    assert k_anonymity_verdict(published.iloc[:0], "sample_size", 5)[0]
    assert not k_anonymity_verdict(published.assign(sample_size=["12", "x"]), "sample_size", 5)[0]  # not a number


def _org_of(conn, org: str, learners: int, skill_month) -> None:
    conn.execute(sa.text("insert into organizations (id, name) values (:o, :o)"), {"o": org})
    ids = [f"{org}-u{i}" for i in range(learners)]
    conn.execute(sa.text("insert into users (id, email, organization_id) select u, u || '@x.org', :o from unnest(cast(:ids as text[])) u"),
                 {"o": org, "ids": ids})
    conn.execute(sa.text(
        "insert into learner_velocity_analytics (user_id, current_pace, target_pace, trend_direction, trend_percentage, status, "
        "calculated_at, expires_at) select u, 5, 5, 'stable', 0, 'on_track', :at, now() + interval '1 day' "
        "from unnest(cast(:ids as text[])) u"), {"ids": ids, "at": T})
    conn.execute(sa.text(
        "insert into user_skills (id, user_id, skill_id, mastery_level, last_assessed_at) "
        "select u || '-sk', u, 'skill-python', 40, :m from unnest(cast(:ids as text[])) u"), {"ids": ids, "m": skill_month})


def test_an_organisation_of_nine_gets_no_peer_row_and_the_checks_pass(clean_warehouse):
    with clean_warehouse.begin() as conn:
        apply_access_control(conn, 10)
        _org_of(conn, "small", 9, pd.Timestamp("2026-01-10", tz="UTC").to_pydatetime())
        _org_of(conn, "large", 10, pd.Timestamp("2026-02-10", tz="UTC").to_pydatetime())
        conn.execute(sa.text("refresh materialized view peer_comparison_aggregates"))
        conn.execute(sa.text("refresh materialized view skill_demand_aggregates"))
    with clean_warehouse.connect() as conn:
        peers = conn.execute(sa.text("select organization_id, sample_size from peer_comparison_aggregates")).all()
        assert peers == [("large", 10)]
        cells = conn.execute(sa.text("select skill_id, learner_count from skill_demand_aggregates")).all()
        assert cells == [("skill-python", 10)]  # the 9 of January are not published
        for view, column in (("peer_comparison_aggregates", "sample_size"), ("skill_demand_aggregates", "learner_count")):
            passed, metadata = k_anonymity_result(conn, view, column, 10)
            assert passed and metadata["k_in_sql"] == 10
        # a stricter k set later: the published group of 10 is now under k → the blocking check fails
        assert not k_anonymity_result(conn, "peer_comparison_aggregates", "sample_size", 11)[0]


def test_k_setting_written_for_sql_never_below_five(clean_warehouse):
    with clean_warehouse.begin() as conn:
        assert apply_access_control(conn, 12)["k"] == 12
        assert conn.execute(sa.text("select k_anonymity()")).scalar_one() == 12
        assert apply_access_control(conn, 3)["k"] == 5
        assert conn.execute(sa.text("select k_anonymity()")).scalar_one() == 5
        apply_access_control(conn, 10)
