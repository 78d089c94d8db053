"""Content effectiveness' evidence from the rollup's item cells (issue 18, migration 0021) on real
PostgreSQL: the effects, each learner's latest use of each item and the published rows equal those
from the raw events, the incremental maintenance of the item cells equals a rebuild, and a re-run of
a past day reads the raw events.

The platform below is random but seeded: 90 learners, 8 items tagged with 3 skills, events of three
types over 100 days (several per learner, item and day; some at exactly UTC midnight, some at the
retention cutoff's instant, some exactly 14 days before a result), results on the skills, some rows
ingested days after they occurred or after T.
"""
import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics_pipeline.analytics import content_effectiveness as ce
from analytics_pipeline.analytics.store import (
    CATALOGS, EFFECT_READS, EFFECT_ROLLUP_READS, QUERIES, _read, category_config,
    effect_reads_for, evidence_frames, run_snapshot, update_daily_activity)
from analytics_pipeline.warehouse import independent_check
from analytics_pipeline.warehouse.bulk import copy_frame, read_frame, sql_text
from tests.learner_analytics.raw import load_people, table_rows

T1 = pd.Timestamp("2025-04-20", tz="UTC")
T2 = T1 + pd.Timedelta(days=1)
DAY = pd.Timedelta(days=1)
KEPT = T1 - 90 * DAY  # the retention cutoff at T1
ITEM_COLUMNS = ["user_id", "content_id", "day", "first_at", "last_at", "first_completed_at",
                "last_completed_at"]
SKILLS = ["skill-sql", "skill-python", "skill-react"]  # seeded skills


def _platform(seed: int = 21):
    rng = np.random.default_rng(seed)
    users = [f"q{i:03d}" for i in range(90)]
    items = pd.DataFrame({"id": [f"i{k}" for k in range(8)], "course_id": "c1",
                          "title": [f"Item {k}" for k in range(8)],
                          "content_type": ["video", "video", "quiz", "quiz", "reading", "reading",
                                           "exercise", "project"],
                          "skill_ids": [[SKILLS[k % 3]] if k % 4 else [SKILLS[k % 3], SKILLS[(k + 1) % 3]]
                                        for k in range(8)],
                          "duration_minutes": 10.0, "updated_at": T1 - 200 * DAY})
    n = 9000
    # clustered: a learner's events on an item come in bursts of a few per day
    occurred = T2 + DAY - pd.to_timedelta(rng.integers(0, 100 * 24 * 60, n), unit="min")
    odd = rng.random(n)
    occurred = occurred.where(odd >= 0.06, occurred.floor("D"))           # at exactly 00:00
    occurred = occurred.where((odd < 0.06) | (odd >= 0.08), KEPT)          # at the cutoff instant
    lag = pd.to_timedelta(np.where(rng.random(n) < 0.12, rng.integers(1, 4 * 24 * 60, n), 0), unit="min")
    events = pd.DataFrame({
        "id": [f"x{i}" for i in range(n)],
        "user_id": np.array(users)[rng.integers(0, len(users), n)], "course_id": "c1",
        "content_id": np.array(items["id"])[rng.integers(0, len(items), n)],
        "content_type": None,
        "event_type": np.array(["started", "progressed", "completed"])[rng.integers(0, 3, n)],
        "occurred_at": occurred, "updated_at": occurred + lag,
        "duration_seconds": 60.0, "progress_delta": None})
    # a third of the learners never use i6 and i7 (what they are recommended)
    shy = events["user_id"].isin(users[:30]) & events["content_id"].isin(["i6", "i7"])
    events.loc[shy, "content_id"] = "i5"
    events["content_type"] = events["content_id"].map(dict(zip(items["id"], items["content_type"])))
    m = 2500
    submitted = T2 - pd.to_timedelta(rng.integers(0, 95 * 24 * 60, m), unit="min")
    results = pd.DataFrame({
        "id": [f"r{i}" for i in range(m)], "user_id": np.array(users)[rng.integers(0, len(users), m)],
        "course_id": "c1", "assessment_id": [f"a{i}" for i in range(m)],
        "skill_id": np.array(SKILLS)[rng.integers(0, 3, m)],
        "score": rng.integers(20, 75, m).astype(float), "passing_score": 70.0,
        "submitted_at": submitted, "updated_at": submitted})
    # the learners who use i6 and i7 score higher: those items' effects are positive
    results["score"] += np.where(results["user_id"].isin(users[:30]), 0.0, 25.0)
    # results exactly 14 days after a completion (the window's closed start), and their learners'
    # completions: the boundary instant of a cell
    done = events.loc[events["event_type"].eq("completed")].head(40)
    results.loc[: len(done) - 1, "user_id"] = done["user_id"].to_numpy()
    results.loc[: len(done) - 1, "submitted_at"] = (done["occurred_at"] + 14 * DAY).to_numpy()
    results.loc[: len(done) - 1, "updated_at"] = (done["updated_at"] + 14 * DAY).to_numpy()
    return users, items, events, results


def _load(engine, known_by: pd.Timestamp):
    """Everything but the events and results ingested after ``known_by``; returns those."""
    users, items, events, results = _platform()
    stamp = T1 - 200 * DAY
    enrollments = pd.DataFrame({"id": [f"{u}:c1" for u in users], "user_id": users, "course_id": "c1",
                                "enrolled_at": stamp, "status": "active", "progress_percent": 10.0,
                                "updated_at": stamp})
    with engine.begin() as conn:
        load_people(conn, users, {"c1": 10}, stamp)
        copy_frame(conn, "course_skills", pd.DataFrame({"course_id": "c1", "skill_id": SKILLS,
                                                        "target_level": 90.0}))
        copy_frame(conn, "enrollments", enrollments)
        copy_frame(conn, "content_items", items, array_columns=["skill_ids"])
        copy_frame(conn, "learning_events", events.loc[events["updated_at"] <= known_by])
        copy_frame(conn, "assessment_results", results.loc[results["updated_at"] <= known_by])
    return events.loc[events["updated_at"] > known_by], results.loc[results["updated_at"] > known_by]


def _evidence(engine, T, reads, cfg):
    """(item effects, type effects, latest use) of ``T`` from the given evidence reads (one chunk)."""
    with engine.connect() as conn:
        items = read_frame(conn, sql_text(f"{QUERIES}/{CATALOGS['content_items']}"))
        frames = evidence_frames(_read(conn, reads, T, cfg, 1, 0), reads != EFFECT_READS)
    item_eff, type_eff = ce.effect_tables(ce.effect_parts_of(
        items, frames["learning_events"], frames["assessment_results"], T, cfg), cfg)
    use = ce.latest_use(frames["learning_events"], T)
    return tuple(f.sort_values(list(f.columns[:2])).reset_index(drop=True)
                 for f in (item_eff, type_eff, use)), len(frames["learning_events"])


def _same_evidence(engine, T, cfg) -> tuple[pd.DataFrame, int, int]:
    raw, raw_rows = _evidence(engine, T, EFFECT_READS, cfg)
    cells, cell_rows = _evidence(engine, T, {**EFFECT_READS, **EFFECT_ROLLUP_READS}, cfg)
    for a, b in zip(cells, raw):
        pd.testing.assert_frame_equal(a, b)
    return raw[0], raw_rows, cell_rows


def _item_cells(engine) -> pd.DataFrame:
    return table_rows(engine, "learner_daily_item_use", ITEM_COLUMNS, "user_id, day, content_id")


def _rebuilt(engine, T) -> pd.DataFrame:
    """The item cells rebuilt from scratch at T (the rollup is rebuilt: nothing reads it after)."""
    with engine.begin() as conn:
        conn.execute(sa.text("delete from learner_daily_activity_asof"))
    assert update_daily_activity(engine, T)["mode"] == "first_build"
    return _item_cells(engine)


def _published(engine, T) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text("select * from content_effectiveness_analytics where calculated_at = :t "
                                         "order by user_id"), conn, params={"t": T.to_pydatetime()}) \
            .drop(columns=["id"])


def _uses_cells(engine, T, cfg) -> bool:
    with engine.connect() as conn:
        return effect_reads_for(conn, T, cfg) != EFFECT_READS


def test_effects_and_rows_from_the_item_cells_equal_the_raw_events_over_two_days(clean_warehouse):
    engine = clean_warehouse
    cfg = category_config("content_effectiveness")
    late_events, late_results = _load(engine, known_by=T1)
    assert (late_events["occurred_at"] <= T1).any() and len(late_results) > 0

    first = update_daily_activity(engine, T1)
    assert first["mode"] == "first_build" and first["items_written"] > 0
    assert _uses_cells(engine, T1, cfg)
    cells = _item_cells(engine)
    assert cells["day"].min() == (KEPT - DAY).date()  # the cell of the cutoff's instant is kept
    assert cells["first_completed_at"].notna().any() and cells["first_completed_at"].isna().any()
    effects, raw_rows, cell_rows = _same_evidence(engine, T1, cfg)
    assert len(effects) >= 5 and cell_rows < raw_rows  # not vacuous, and fewer rows read
    # published through the item cells: the same rows as through the raw events
    report = run_snapshot(engine, "content_effectiveness", T1, cfg)
    assert report.rollup and report.rows == 90
    via_cells = _published(engine, T1)
    assert not run_snapshot(engine, "content_effectiveness", T1, cfg, rollup=False).rollup
    pd.testing.assert_frame_equal(_published(engine, T1), via_cells)
    assert via_cells["most_effective"].map(len).sum() > 0 and via_cells["recommendations"].map(len).sum() > 0

    # the next day: late rows of (T1, T2] (some occurred long before T1), a void, a moved event,
    # a completion turned into progress; rows ingested after T2 are not known at T2
    with engine.begin() as conn:
        copy_frame(conn, "learning_events", late_events.loc[late_events["updated_at"] <= T2])
        copy_frame(conn, "assessment_results", late_results.loc[late_results["updated_at"] <= T2])
        conn.execute(sa.text("delete from learning_events where id in (select id from learning_events "
                             "where event_type = 'completed' order by id limit 4)"))
        conn.execute(sa.text("update learning_events set occurred_at = occurred_at - interval '5 days', "
                             "updated_at = :t where id in (select id from learning_events "
                             "where occurred_at > :t - interval '30 days' order by id limit 4)"),
                     {"t": T1.to_pydatetime()})
        conn.execute(sa.text("update learning_events set event_type = 'progressed' where id in "
                             "(select id from learning_events where event_type = 'completed' "
                             "order by id desc limit 4)"))
    assert not _uses_cells(engine, T1, cfg)  # stale cells since the maintenance: raw events
    again = update_daily_activity(engine, T2)
    assert again["mode"] == "incremental" and 0 < again["items_written"] < first["items_written"] / 4
    with engine.begin() as conn:
        copy_frame(conn, "learning_events", late_events.loc[late_events["updated_at"] > T2])
    assert _uses_cells(engine, T2, cfg) and not _uses_cells(engine, T1, cfg)
    maintained = _item_cells(engine)
    assert maintained["day"].min() == (KEPT - DAY).date() + pd.Timedelta(days=1)  # retired a day
    _same_evidence(engine, T2, cfg)
    run_snapshot(engine, "content_effectiveness", T2, cfg)
    truth = independent_check.check(engine, "content_effectiveness", T2)
    assert truth["mismatching_count"] == 0 and truth["compared"] == 90, independent_check.summary(truth)
    pd.testing.assert_frame_equal(maintained, _rebuilt(engine, T2))

    # a re-run of T1 (the rollup is exact for T2 now) reads the raw events (as they are now: the
    # void and the moves changed T1's history) and its rows equal their independent computation
    assert not run_snapshot(engine, "content_effectiveness", T1, cfg).rollup
    truth = independent_check.check(engine, "content_effectiveness", T1)
    assert truth["mismatching_count"] == 0 and truth["compared"] == 90, independent_check.summary(truth)


def test_a_window_shorter_than_a_day_or_an_odd_instant_reads_the_raw_events(clean_warehouse):
    engine = clean_warehouse
    _load(engine, known_by=T1)
    update_daily_activity(engine, T1)
    assert _uses_cells(engine, T1, category_config("content_effectiveness"))
    short = category_config("content_effectiveness", overrides={"effect_window_days": 0.5})
    assert not _uses_cells(engine, T1, short)
    update_daily_activity(engine, T1 + pd.Timedelta(hours=5))
    assert not _uses_cells(engine, T1 + pd.Timedelta(hours=5), category_config("content_effectiveness"))


def test_a_rollup_without_item_cells_is_rebuilt(clean_warehouse):
    """A rollup built before migration 0021 (item_use false) is rebuilt by the next maintenance."""
    engine = clean_warehouse
    _load(engine, known_by=T1)
    update_daily_activity(engine, T1)
    with engine.begin() as conn:
        conn.execute(sa.text("truncate learner_daily_item_use"))
        conn.execute(sa.text("update learner_daily_activity_asof set item_use = false"))
    assert not _uses_cells(engine, T1, category_config("content_effectiveness"))
    assert update_daily_activity(engine, T2)["mode"] == "first_build"
    assert len(_item_cells(engine)) > 0 and _uses_cells(engine, T2, category_config("content_effectiveness"))


def test_a_platform_without_events_publishes_through_the_empty_item_cells(clean_warehouse):
    """A real platform whose events endpoint is empty: the rollup holds no item cell, the cells
    path still runs (empty frames keep their dtypes) and publishes the raw path's rows."""
    engine = clean_warehouse
    cfg = category_config("content_effectiveness")
    _load(engine, known_by=T1)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from learning_events"))
    assert update_daily_activity(engine, T1)["items_written"] == 0
    assert _uses_cells(engine, T1, cfg)
    effects, raw_rows, cell_rows = _same_evidence(engine, T1, cfg)
    assert raw_rows == cell_rows == 0 and effects.empty
    report = run_snapshot(engine, "content_effectiveness", T1, cfg)
    assert report.rollup and report.rows == 90
    via_cells = _published(engine, T1)
    assert not run_snapshot(engine, "content_effectiveness", T1, cfg, rollup=False).rollup
    pd.testing.assert_frame_equal(_published(engine, T1), via_cells)
