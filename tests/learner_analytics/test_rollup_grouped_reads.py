"""Issue 18: velocity and engagement read the rollup's tables once for several chunks
(``store.GroupedReads``) instead of once per chunk, and split the rows by chunk in memory. On real
PostgreSQL (the platform of test_engagement_rollup: 61 learners, bursts, late arrivals, edges):
whatever the number of chunks per scan, the published rows are those of the raw events, the
rollup's tables are scanned once per group of chunks, and a chunk without rollup rows gets what
a per-chunk read gives.
"""
import math

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.analytics.store import (READS, ROLLUP_READS, GroupedReads, _read,
                                                category_config, run_snapshot, update_daily_activity)
from tests.learner_analytics.test_daily_activity_rollup import T1
from tests.learner_analytics.test_engagement_rollup import _setup

TABLES = {"velocity": "learner_velocity_analytics", "engagement": "engagement_analytics"}


def _rows(engine, name, T) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(f"select * from {TABLES[name]} where calculated_at = :t "
                                         "order by user_id"), conn, params={"t": T.to_pydatetime()}) \
            .drop(columns=["id"])


@pytest.mark.parametrize("name", ["velocity", "engagement"])
def test_grouped_reads_publish_the_rows_of_the_raw_events(clean_warehouse, name):
    engine = clean_warehouse
    _setup(engine)
    assert update_daily_activity(engine, T1)["mode"] == "first_build"
    raw = run_snapshot(engine, name, T1, chunk_learners=7, rollup=False)
    assert not raw.rollup and raw.chunks == 9  # 61 learners
    expected = _rows(engine, name, T1)
    assert len(expected) > 30
    for per_read in (1, 4, 9, 1000):  # chunks per scan: one each, 4 + 4 + 1, all, all
        report = run_snapshot(engine, name, T1, chunk_learners=7, rollup_read_learners=7 * per_read)
        assert report.rollup and report.chunks == 9 and report.rows == len(expected)
        assert report.rollup_scans == math.ceil(9 / min(per_read, 9)) * len(ROLLUP_READS[name]), per_read
        pd.testing.assert_frame_equal(_rows(engine, name, T1), expected)


def test_a_chunk_without_rollup_rows_reads_as_a_chunk_read_alone(clean_warehouse):
    engine = clean_warehouse
    _setup(engine)
    update_daily_activity(engine, T1)
    cfg = category_config("engagement")
    reads = ROLLUP_READS["engagement"]
    n = 200  # more chunks than learners: many are empty
    with engine.connect() as conn:
        groups = GroupedReads(conn, reads, T1, cfg, n, per_read=n)
        seen_empty = seen_full = 0
        for i in range(n):
            alone = _read(conn, reads, T1, cfg, n, i)
            taken = groups.take(i)
            assert "chunk" not in taken["session_parts"].columns
            for key in reads:
                pd.testing.assert_frame_equal(
                    taken[key].sort_values(list(taken[key].columns)).reset_index(drop=True),
                    alone[key].sort_values(list(alone[key].columns)).reset_index(drop=True))
            empty = len(alone["session_parts"]) == 0
            seen_empty, seen_full = seen_empty + empty, seen_full + (not empty)
        assert seen_empty > 50 and seen_full > 30
