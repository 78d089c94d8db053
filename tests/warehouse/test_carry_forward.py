"""Carry-forward (issue 18): the snapshot of T built from the rows of T - 1 day for the learners
whose inputs did not change equals the full recomputation of T, row for row, on a warehouse with
real changes of every kind between the two days; each dirty reason makes its learner recomputed;
anything not comparable falls back to the full computation (real PostgreSQL)."""
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics_pipeline.analytics import CATEGORIES
from analytics_pipeline.analytics.store import (CARRY_DIRTY, category_config, dirty_learners,
                                                run_snapshot)
from analytics_pipeline.bench.analytics_steps import generate

TP = pd.Timestamp("2025-06-01T00:00:00Z")
T = TP + pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)
NAMES = tuple(CARRY_DIRTY)


def rows(engine, name, at):
    table = CATEGORIES[name][1]
    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text(f"select * from {table} where calculated_at = :t order by user_id"),
                                  conn, params={"t": at.to_pydatetime()})
    frame = frame.drop(columns=["id"])
    for column in frame.columns:  # jsonb: compare the documents, not their Python objects' identity
        if frame[column].map(lambda v: isinstance(v, (list, dict))).any():
            frame[column] = frame[column].map(lambda v: json.dumps(v, sort_keys=True))
    return frame.reset_index(drop=True)


def run(engine, sql, **params):
    with engine.begin() as conn:
        return conn.execute(sa.text(sql), {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                                           for k, v in params.items()})


def pick(engine, sql, k, **params):
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text(sql), {k2: v.to_pydatetime() for k2, v in params.items()}).all()][:k]


@pytest.fixture
def changed(clean_warehouse):
    """A warehouse of T - 1 day, its three snapshots (full), then changes of every kind; the
    learner each change concerns, by reason."""
    engine = clean_warehouse
    generate(engine, 1200, TP, seed=11)
    active = pick(engine, "select user_id from enrollments where completed_at is null and withdrawn_at is null "
                          "group by user_id order by user_id", 20)
    with_results = pick(engine, "select user_id from assessment_results where submitted_at > :lo group by user_id "
                                "order by user_id desc", 6, lo=TP - pd.Timedelta(days=60))
    with_skills = pick(engine, "select user_id from user_skills where last_assessed_at < :tp group by user_id "
                               "order by user_id desc offset 50", 6, tp=TP)
    who = {
        # known before the run of T - 1 day: time alone crosses them into T
        "user_skills assessed": with_skills[0], "enrollments crossed": active[0],
        "enrollments withdrawn": active[1], "results submitted": with_results[0],
        # after the run of T - 1 day
        "user_skills updated": with_skills[1], "user_skills re-assessed after T": with_skills[2],
        "enrollments updated": active[2], "results updated": with_results[1],
        "user_skills deleted": with_skills[3], "enrollments deleted": active[3],
        "results deleted": with_results[2], "erased": active[4],
        "enrollments inserted": active[5],
    }
    run(engine, "update user_skills set last_assessed_at = :at, updated_at = :up where id = "
                "(select min(id) from user_skills where user_id = :u)",
        at=TP + 6 * H, up=TP - H, u=who["user_skills assessed"])
    run(engine, "update enrollments set enrolled_at = :at, updated_at = :up where id = "
                "(select min(id) from enrollments where user_id = :u and completed_at is null and withdrawn_at is null)",
        at=TP + 6 * H, up=TP - H, u=who["enrollments crossed"])
    run(engine, "update enrollments set withdrawn_at = :at, updated_at = :up where id = "
                "(select min(id) from enrollments where user_id = :u and completed_at is null and withdrawn_at is null)",
        at=TP + 3 * H, up=TP - H, u=who["enrollments withdrawn"])
    run(engine, "insert into assessment_results (id, user_id, assessment_id, skill_id, score, passing_score, "
                "submitted_at, updated_at) values ('r-new', :u, 'a-new', 's01', 12.5, 70, :at, :up)",
        at=TP + 5 * H, up=TP - H, u=who["results submitted"])
    # a result leaving the 90-day window between the two days (as the generated ones do too)
    run(engine, "update assessment_results set submitted_at = :at where id = "
                "(select min(id) from assessment_results where user_id = :u)",
        at=TP - pd.Timedelta(days=90) + 7 * H, u=with_results[3])
    who["results left the window"] = with_results[3]
    for name in NAMES:
        report = run_snapshot(engine, name, TP, chunk_learners=500)
        assert report.path == "full" and report.fallback == "no recorded snapshot of T - 1 day"

    run(engine, "update user_skills set mastery_level = 99, last_assessed_at = :at, updated_at = :at where id = "
                "(select min(id) from user_skills where user_id = :u)", at=TP + 2 * H, u=who["user_skills updated"])
    run(engine, "update user_skills set last_assessed_at = :at, updated_at = :at where id = "
                "(select min(id) from user_skills where user_id = :u)", at=T + 5 * H,
        u=who["user_skills re-assessed after T"])
    run(engine, "update enrollments set completed_at = :at, updated_at = :at where id = "
                "(select min(id) from enrollments where user_id = :u and completed_at is null and withdrawn_at is null)",
        at=TP + 4 * H, u=who["enrollments updated"])
    run(engine, "insert into enrollments (id, user_id, course_id, enrolled_at, progress_percent, updated_at) "
                "select 'e-new', :u, c.id, :at, 0, :up from courses c where c.id not in "
                "(select course_id from enrollments where user_id = :u) order by c.id limit 1",
        at=TP - 2 * H, up=TP - H, u=who["enrollments inserted"])  # late: known only after the run of T'
    # progress alone: not dirty (these categories read the active set), carried, still equal
    run(engine, "update enrollments set progress_percent = 42, updated_at = :at where user_id = :u",
        at=TP + 2 * H, u=active[6])
    who["progress only"] = active[6]
    run(engine, "update assessment_results set score = 1, updated_at = :at where id = "
                "(select max(id) from assessment_results where user_id = :u)", at=TP + H, u=who["results updated"])
    run(engine, "delete from user_skills where id = (select min(id) from user_skills where user_id = :u)",
        u=who["user_skills deleted"])
    run(engine, "delete from enrollments where id = (select min(id) from enrollments where user_id = :u "
                "and completed_at is null and withdrawn_at is null)", u=who["enrollments deleted"])
    run(engine, "delete from assessment_results where id = (select max(id) from assessment_results where user_id = :u)",
        u=who["results deleted"])
    run(engine, "insert into erasure_requests (user_id) values (:u)", u=who["erased"])
    run(engine, "select * from process_erasure_requests('test')")
    return engine, who


REASONS = {  # change -> the reason the dirty query reports, per category that reads the table
    "user_skills assessed": "user_skills assessed", "user_skills updated": "user_skills updated",
    "user_skills re-assessed after T": "user_skills updated", "user_skills deleted": "user_skills deleted",
    "enrollments crossed": "enrollments crossed", "enrollments withdrawn": "enrollments crossed",
    "enrollments updated": "enrollments updated", "enrollments deleted": "enrollments deleted",
    "enrollments inserted": "enrollments inserted",
    "results submitted": "results submitted", "results updated": "results updated",
    "results deleted": "results deleted", "results left the window": "results left the window",
}


def test_carry_forward_equals_the_full_recomputation_and_recomputes_each_dirty_learner(changed):
    engine, who = changed
    for name in NAMES:
        full = run_snapshot(engine, name, T, chunk_learners=500, carry=False)
        assert full.path == "full" and full.fallback == "carry-forward turned off"
        expected = rows(engine, name, T)
        carried = run_snapshot(engine, name, T, chunk_learners=500)
        assert carried.path == "carry" and carried.fallback is None, (name, carried.fallback)
        got = rows(engine, name, T)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert carried.rows == full.rows == len(expected)
        assert carried.learners_carried + carried.learners_recomputed == carried.rows
        assert carried.learners_carried > 0.8 * carried.rows, (name, carried.learners_carried)
        assert carried.distribution.to_dict() == full.distribution.to_dict()
        # the rows of the erased learner are gone everywhere
        assert who["erased"] not in set(got["user_id"])

        with engine.connect() as conn:
            seen = conn.execute(sa.text("select read_snapshot::text from analytics_snapshot_runs "
                                        "where table_name = :t and calculated_at = :tp"),
                                {"t": CATEGORIES[name][1], "tp": TP.to_pydatetime()}).scalar_one()
            dirty = dirty_learners(conn, name, T, category_config(name), seen)
        tables = {"user_skills" if "user_skills" in f else "enrollments" if "enrollments" in f else "results"
                  for f in CARRY_DIRTY[name]}
        for change, reason in REASONS.items():
            if reason.split()[0] in tables:
                found = set(dirty.loc[dirty["user_id"] == who[change], "reason"])
                assert reason in found, (name, change, found)
        assert who["progress only"] not in set(dirty["user_id"]), name
        assert carried.learners_recomputed < 0.2 * carried.rows


def test_each_dirty_learner_row_differs_from_its_copy_somewhere(changed):
    """The changes are real: a copy of T - 1 day alone would be wrong for the changed learners."""
    engine, who = changed
    differing = 0
    for name in NAMES:
        run_snapshot(engine, name, T, chunk_learners=500, carry=False)
        before = rows(engine, name, TP).drop(columns=["calculated_at", "expires_at"]).set_index("user_id")
        after = rows(engine, name, T).drop(columns=["calculated_at", "expires_at"]).set_index("user_id")
        for change, user in who.items():
            if change == "progress only":
                continue
            if (user in before.index) != (user in after.index) or (
                    user in before.index and not before.loc[user].equals(after.loc[user])):
                differing += 1
    assert differing >= 10


def test_a_changed_catalog_or_config_or_a_missing_day_runs_the_full_computation(clean_warehouse):
    engine = clean_warehouse
    generate(engine, 300, TP, seed=3)
    report = run_snapshot(engine, "mastery", T, chunk_learners=100)
    assert report.path == "full" and report.fallback == "no recorded snapshot of T - 1 day"
    run_snapshot(engine, "mastery", TP, chunk_learners=100)
    assert run_snapshot(engine, "mastery", T, chunk_learners=100).path == "carry"

    cfg = category_config("mastery", overrides={"mastered_threshold": 75})
    report = run_snapshot(engine, "mastery", T, cfg, chunk_learners=100)
    assert report.path == "full" and report.fallback == "config or code changed since T - 1 day"

    # rows written without the quality suite are not carried into a checked snapshot
    run_snapshot(engine, "mastery", TP, chunk_learners=100, check_quality=False)
    report = run_snapshot(engine, "mastery", T, chunk_learners=100)
    assert report.path == "full" and report.fallback == "config or code changed since T - 1 day"
    run_snapshot(engine, "mastery", TP, chunk_learners=100)

    run(engine, "update skills set name = 'Renamed' where id = 's01'")
    report = run_snapshot(engine, "mastery", T, chunk_learners=100)
    assert report.path == "full" and report.fallback == "a catalog changed since T - 1 day"
    expected = rows(engine, "mastery", T)
    assert (expected["skills"].str.contains("Renamed")).any()

    # skill gap reads course_skills: a changed target level also recomputes everybody
    run_snapshot(engine, "skill_gap", TP, chunk_learners=100)
    run(engine, "update course_skills set target_level = 99 where course_id = 'c001'")
    report = run_snapshot(engine, "skill_gap", T, chunk_learners=100)
    assert report.path == "full" and report.fallback == "a catalog changed since T - 1 day"
