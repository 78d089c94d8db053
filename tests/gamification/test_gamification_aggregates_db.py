"""Leaderboard privacy, k-anonymity of the peer aggregates, concurrent refresh and the ledger lock."""
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from analytics_pipeline.aggregates.store import LedgerBusy, refresh_view
from analytics_pipeline.warehouse.urls import libpq_url
from tests.gamification.db_helpers import add_org, add_users, metadata, refresh_aggregates, table


def _award_now(engine, rows):
    """rows: (user_id, points); timestamp = now (inside the current week and month)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into point_transactions (user_id, points, activity_type, source_id, \"timestamp\") "
            "values (:u, :p, 'content_completed', :u || ':' || :p, now())"),
            [{"u": u, "p": p} for u, p in rows])


def test_hidden_learners_are_absent_and_anonymous_ones_carry_no_identity(clean_warehouse, warehouse_url):
    engine = clean_warehouse
    add_users(engine, ["pub"], privacy="public")
    add_users(engine, ["anon"], privacy="anonymous")
    add_users(engine, ["hid"], privacy="hidden")
    add_users(engine, ["nopref"])  # no preferences row: the default, public
    _award_now(engine, [("pub", 10), ("anon", 30), ("hid", 50), ("nopref", 20)])
    result = refresh_aggregates(warehouse_url, {"leaderboard_weekly", "leaderboard_monthly"})
    for view, points in [("leaderboard_weekly", "weekly_points"), ("leaderboard_monthly", "monthly_points")]:
        board = table(engine, f"select * from {view} order by rank")
        assert board[points].tolist() == [30, 20, 10]      # hidden's 50 is not there
        assert board["rank"].tolist() == [1, 2, 3]
        assert "hid" not in board["user_id"].tolist()
        anon = board[board["is_anonymous"]]
        assert len(anon) == 1
        row = anon.iloc[0]
        assert pd.isna(row["user_id"]) and pd.isna(row["avatar_url"])
        assert row["display_name"] == "Anonymous learner"
        # no column other learners read carries anything of the anonymous learner's identity
        text = " ".join(str(v) for v in row.to_dict().values())
        for secret in ["anon@example.org", "Name of anon", "https://img/anon"]:
            assert secret not in text
        assert row["entry_id"] not in {"anon", pd.util.hash_pandas_object(pd.Series(["anon"])).iloc[0]}
        with engine.connect() as conn:
            assert row["entry_id"] != conn.execute(sa.text("select md5('anon')")).scalar_one()
        public = board[board["user_id"] == "pub"].iloc[0]
        assert public["display_name"] == "Name of pub" and public["avatar_url"] == "https://img/pub"
        assert board["entry_id"].is_unique
    meta = metadata(result, "leaderboard_weekly")
    assert meta["rows"] == 3 and meta["anonymous_entries"] == 1 and meta["concurrently"] is True
    # the weekly and monthly boards give an anonymous learner different opaque ids
    ids = table(engine, "select (select entry_id from leaderboard_weekly where is_anonymous) as w, "
                        "(select entry_id from leaderboard_monthly where is_anonymous) as m")
    assert ids["w"][0] != ids["m"][0]


def _peer_group(engine, org, n, with_score=None, mastery=50):
    ids = [f"{org}-{i}" for i in range(n)]
    add_users(engine, ids, org_id=org)
    with_score = n if with_score is None else with_score
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into user_skills (id, user_id, skill_id, mastery_level, last_assessed_at) "
            "values (:u || :suffix, :u, 'skill-sql', :m, now())"),
            [{"u": u, "m": mastery, "suffix": ":skill-sql"} for u in ids])
        for when in ["now() - interval '2 hours'", "now() - interval '1 hour'"]:  # two snapshots each
            conn.execute(sa.text(
                "insert into learner_velocity_analytics (user_id, current_pace, target_pace, trend_direction, "
                f"trend_percentage, status, calculated_at, expires_at) values (:u, :pace, 10, 'stable', 0, "
                f"'on_track', {when}, now() + interval '1 day')"),
                [{"u": u, "pace": 5 + i} for i, u in enumerate(ids)])
        conn.execute(sa.text(
            "insert into performance_analytics (user_id, avg_score, trend, assessments_taken, pass_rate, "
            "performance_by_skill, recent_scores, calculated_at, expires_at) values "
            "(:u, 80, 'stable', 1, 100, '{}', '[]', now(), now() + interval '1 day')"),
            [{"u": u} for u in ids[:with_score]])


def test_a_group_of_nine_is_not_published_and_one_of_ten_is(clean_warehouse, warehouse_url):
    engine = clean_warehouse
    for org in ["nine", "ten", "tenfewscores"]:
        add_org(engine, org)
    _peer_group(engine, "nine", 9)
    _peer_group(engine, "ten", 10)
    _peer_group(engine, "tenfewscores", 10, with_score=9)
    result = refresh_aggregates(warehouse_url, {"peer_comparison_aggregates"})
    peers = table(engine, "select * from peer_comparison_aggregates order by organization_id").set_index("organization_id")
    assert "nine" not in peers.index
    assert peers.loc["ten", "sample_size"] == 10              # one row per learner, not per snapshot
    assert peers.loc["ten", "competency_level"] == "intermediate"
    assert float(peers.loc["ten", "avg_velocity"]) == pytest.approx(sum(range(5, 15)) / 10)
    assert float(peers.loc["ten", "avg_score"]) == 80
    assert pd.isna(peers.loc["tenfewscores", "avg_score"])     # 9 scores: not published
    assert peers.loc["tenfewscores", "score_sample_size"] == 9
    meta = metadata(result, "peer_comparison_aggregates")
    assert meta["smallest_published_group"] == 10 and meta["k"] == 10 and meta["rows"] == 2


def test_skill_demand_publishes_k_cells_and_month_on_month_growth(clean_warehouse, warehouse_url):
    engine = clean_warehouse
    add_users(engine, [f"s{i}" for i in range(12)])
    with engine.begin() as conn:
        # skill-sql: 10 learners in Jan, 12 in Feb... user_skills holds one row per learner and skill,
        # so use two skills: skill-sql Jan 10 learners, skill-python Jan 2 (withheld) Feb 10
        conn.execute(sa.text(
            "insert into user_skills (id, user_id, skill_id, mastery_level, last_assessed_at) "
            "values (:u || ':' || :s, :u, :s, 60, :t)"),
            [{"u": f"s{i}", "s": "skill-sql", "t": "2025-01-31 23:30+00"} for i in range(10)]
            + [{"u": f"s{i}", "s": "skill-python", "t": "2025-01-15 12:00+00"} for i in range(2)]
            + [{"u": f"s{i}", "s": "skill-python", "t": "2025-02-01 00:30+00"} for i in range(2, 12)])
        # the session's zone must not matter; LOCAL: a plain SET stayed on the pooled connection and
        # moved later tests' date_trunc('day', now()) to Kiritimati's day (the report test failed)
        conn.execute(sa.text("set local time zone 'Pacific/Kiritimati'"))
    result = refresh_aggregates(warehouse_url, {"skill_demand_aggregates"})
    demand = table(engine, "select skill_id, to_char(month at time zone 'UTC', 'YYYY-MM') as month, "
                           "learner_count, growth_rate from skill_demand_aggregates order by 1, 2")
    assert demand[["skill_id", "month", "learner_count"]].values.tolist() == [
        ["skill-python", "2025-02", 10], ["skill-sql", "2025-01", 10]]
    assert demand["growth_rate"].isna().all()  # Jan python (2 learners) is withheld: no base for growth
    assert metadata(result, "skill_demand_aggregates")["smallest_published_group"] == 10


def test_a_leaderboard_can_be_read_during_a_concurrent_refresh(clean_warehouse, warehouse_url):
    engine = clean_warehouse
    add_users(engine, ["a", "b"])
    _award_now(engine, [("a", 5), ("b", 7)])
    refresh_view(engine, "leaderboard_weekly", ledger_lock=False)
    url = libpq_url(warehouse_url)
    with psycopg.connect(url) as refresher, psycopg.connect(url, autocommit=True) as reader:
        refresher.execute("refresh materialized view concurrently leaderboard_weekly")  # transaction left open
        reader.execute("set statement_timeout = '2s'")
        assert reader.execute("select count(*) from leaderboard_weekly").fetchone()[0] == 2
        refresher.rollback()
        # the control: a plain REFRESH would block the same reader
        refresher.execute("refresh materialized view leaderboard_weekly")
        with pytest.raises(psycopg.errors.QueryCanceled):
            reader.execute("select count(*) from leaderboard_weekly")
        refresher.rollback()


def test_a_leaderboard_refresh_waits_for_a_ledger_write_and_gives_up_clearly(clean_warehouse, warehouse_url):
    engine = clean_warehouse
    with psycopg.connect(libpq_url(warehouse_url)) as writer:
        writer.execute("select pg_advisory_xact_lock_shared(hashtext('analytics_pipeline:point_transactions'))")
        with pytest.raises(LedgerBusy, match="ledger was being written"):
            refresh_view(engine, "leaderboard_weekly", ledger_lock=True, lock_timeout_seconds=1)
        writer.rollback()
    assert refresh_view(engine, "leaderboard_weekly", ledger_lock=True, lock_timeout_seconds=1)["rows"] == 0
