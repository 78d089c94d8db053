"""A snapshot of T reads only activity rows still retained at T, so the nightly's retention
(which runs after the analytics and deletes activity logs older than T - 90 d) does not change
what a re-run of T, or an in-database check of the same warehouse, computes.

Regression: learner u2's only event (2025-01-10, on content i1) is older than T - 90 d at
T = 2025-04-20. Engagement used it as u2's last activity (latest event at or before T - 56 d)
and content effectiveness as an item ever used; retention then deleted it, and a re-run of T
(or the bench's SQL) gave last_active = u2's enrollment instead.

Issue 15 (defect 4): a fact that must outlive the raw rows lives in the retained activity
summary (learner_activity_summary, folded in before the snapshots and retention of T): u2's
last activity stays 2025-01-10 08:00 before and after retention; it is neither forgotten nor
replaced by the enrollment time.
"""
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.governance.store import apply_retention
from analytics_pipeline.governance.policy import RETENTION_POLICY
from analytics_pipeline.analytics.store import run_snapshot, update_activity_summary

from . import raw

T = raw.ts("2025-04-20")
OLD_EVENT = ("old", "u2", "c1", "i1", "video", "progressed", "2025-01-10 08:00", None, 600.0, 5.0)


def snapshots(engine) -> dict[str, pd.DataFrame]:
    frames = {}
    for name, (_fn, table) in CATEGORIES.items():
        run_snapshot(engine, name, T)
        with engine.connect() as conn:
            frame = pd.read_sql_query(sa.text(f"select * from {table} where calculated_at = :t order by user_id"),
                                      conn, params={"t": T.to_pydatetime()})
        frames[name] = frame.drop(columns=["id"]).reset_index(drop=True)
    return frames


def test_snapshot_of_t_is_the_same_before_and_after_retention_at_t(clean_warehouse):
    raw.load(clean_warehouse, extra_events=[OLD_EVENT], now="2025-04-20")
    assert pd.Timestamp("2025-01-10", tz="UTC") < T - RETENTION_POLICY.activity_logs
    folded = update_activity_summary(clean_warehouse, T)
    assert (folded["learners_updated"], folded["events_folded"]) == (1, 1)  # u2's old event
    assert update_activity_summary(clean_warehouse, T)["events_folded"] == 0  # once only
    before = snapshots(clean_warehouse)
    u2 = before["engagement"].set_index("user_id").loc["u2"]
    assert u2["last_active"] == raw.ts("2025-01-10 08:00")  # from the retained summary

    with clean_warehouse.begin() as conn:
        removed = apply_retention(conn, T)
    assert removed["learning_events"]["rows_removed"] == 1  # the old event (and only it)

    after = snapshots(clean_warehouse)
    for name in CATEGORIES:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
    with clean_warehouse.connect() as conn:
        life = conn.execute(sa.text("select last_activity_at, learning_events from learner_activity_lifetime "
                                    "where user_id = 'u2'")).one()
    assert life == (raw.ts("2025-01-10 08:00"), 1)  # lifetime count: the retired row still counted
