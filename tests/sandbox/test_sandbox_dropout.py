"""The synthetic world drops out the way real learners do (issue 14): scheduled runs with due
dates, deadlines missed before a withdrawal, withdrawals dated by the last activity, self-paced
drop-out = going quiet. Read through the real HTTP server (what the pipeline sees)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

DAY = pd.Timedelta(days=1)


def _ts(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    return frame.assign(**{c: pd.to_datetime(frame[c], utc=True) for c in cols})


@pytest.fixture(scope="module")
def world(client, platform_xs):
    courses = _ts(pd.DataFrame(client.read_all("courses")), "starts_at", "ends_at")
    content = _ts(pd.DataFrame(client.read_all("content")), "due_at")
    enr = _ts(pd.DataFrame(client.read_all("enrollments")), "enrolled_at", "completed_at", "withdrawn_at")
    ev = _ts(pd.DataFrame(client.read_all("learning-events")), "occurred_at")
    runs = courses.rename(columns={"id": "course_id"})[["course_id", "starts_at", "ends_at"]]
    enr = enr.merge(runs, on="course_id")
    enr["scheduled"] = enr["starts_at"].notna()
    last = ev.groupby(["user_id", "course_id"])["occurred_at"].max().rename("last_activity").reset_index()
    enr = enr.merge(last, on=["user_id", "course_id"], how="left")
    now = pd.Timestamp(platform_xs.now, unit="s", tz="UTC")
    return {"courses": courses, "content": content, "enr": enr, "ev": ev, "now": now}


def deadline_rows(w) -> pd.DataFrame:
    """(scheduled enrollment, deadline due by its withdrawal or by now) with its first event on the item."""
    dl = w["content"].loc[w["content"]["due_at"].notna(), ["id", "course_id", "due_at"]].rename(columns={"id": "content_id"})
    first = w["ev"].groupby(["user_id", "course_id", "content_id"])["occurred_at"].min().rename("submitted").reset_index()
    e = w["enr"].loc[w["enr"]["scheduled"] & w["enr"]["status"].isin(["completed", "withdrawn"])]
    x = e.merge(dl, on="course_id").merge(first, on=["user_id", "course_id", "content_id"], how="left")
    cut = x["withdrawn_at"].fillna(w["now"])
    x = x.loc[((x["due_at"] <= cut) & (x["due_at"] > x["enrolled_at"])).to_numpy(dtype=bool)]
    missed = x["submitted"].isna() | (x["submitted"] > x["withdrawn_at"].fillna(w["now"]))
    return x.assign(missed=missed.to_numpy(dtype=bool))


def test_scheduled_courses_carry_runs_due_dates_and_weights(world):
    courses, content = world["courses"], world["content"]
    sched = courses.loc[courses["starts_at"].notna()]
    assert 0.25 <= len(sched) / len(courses) <= 0.6
    assert sched["ends_at"].notna().all() and (sched["ends_at"] > sched["starts_at"]).all()
    assert courses.loc[courses["starts_at"].isna(), "ends_at"].isna().all()
    # at "now" some runs are over (labels for the model) and some are in progress (to score)
    assert (sched["ends_at"] <= world["now"]).any() and ((sched["starts_at"] <= world["now"]) & (sched["ends_at"] > world["now"])).any()
    dl = content.loc[content["due_at"].notna()].merge(
        courses.rename(columns={"id": "course_id"})[["course_id", "starts_at", "ends_at"]], on="course_id")
    assert set(dl["course_id"]) == set(sched["id"])  # every scheduled course has deadlines, self-paced none
    assert ((dl["due_at"] > dl["starts_at"]) & (dl["due_at"] < dl["ends_at"])).all()
    assert set(dl["content_type"]) <= {"quiz", "exercise", "project"}
    assert np.allclose(dl.groupby("course_id")["weight"].sum(), 100, atol=1.0)
    assert content.loc[content["due_at"].isna(), "weight"].isna().all()


def test_withdrawn_learners_missed_more_deadlines_before_withdrawing(world):
    x = deadline_rows(world)
    share = x.groupby("status")["missed"].mean()
    assert share["withdrawn"] > share["completed"] + 0.25, share.to_dict()
    # while still active: of the deadlines due before their last activity in the course, the
    # learners who withdrew later missed more than the completers
    active = x.loc[(x["due_at"] < x["last_activity"]).to_numpy(dtype=bool)]
    while_active = active.groupby("status")["missed"].mean()
    assert (active["status"] == "withdrawn").sum() >= 30
    # (XS seed 42: 0.30 vs 0.19; without the misses piling up before the quit: 0.16 vs 0.19)
    assert while_active["withdrawn"] > while_active["completed"] + 0.05, while_active.to_dict()
    # submissions cluster around the due date, some late
    sub = x.loc[~x["missed"]]
    late = (sub["submitted"] - sub["due_at"]) / DAY
    assert 0.05 < (late > 0).mean() < 0.5 and late.median() > -4 and late.max() < 7


def test_withdrawal_dates_follow_the_last_activity(world):
    enr = world["enr"]
    wd = enr.loc[enr["status"] == "withdrawn"]
    assert 0.08 < len(wd) / len(enr) < 0.35
    assert (wd["withdrawn_at"] >= wd["enrolled_at"]).all()
    s = wd.loc[wd["scheduled"]]
    assert (s["withdrawn_at"] > s["starts_at"]).all() and (s["withdrawn_at"] < s["ends_at"]).all()
    # mostly early in the run, as on OULAD
    position = (s["withdrawn_at"] - s["starts_at"]) / (s["ends_at"] - s["starts_at"])
    assert position.median() < 0.4
    active = wd.loc[wd["last_activity"].notna()]
    assert (active["withdrawn_at"] > active["last_activity"]).all()  # nothing after the withdrawal
    assert (active["withdrawn_at"] <= active["last_activity"] + 15 * DAY).all()
    silent = wd.loc[wd["last_activity"].isna()]
    since = silent[["enrolled_at", "starts_at"]].max(axis=1)
    assert (silent["withdrawn_at"] <= since + 15 * DAY).all()


def test_activity_thins_out_before_dropping_out(world, platform_xs):
    ev, truth = world["ev"], platform_xs.ground_truth()
    # self-paced courses (no deadlines): the thinning is the activity itself fading
    wd = truth.loc[~truth["scheduled"] & (truth["quit_at"] < world["now"]), ["user_id", "course_id", "quit_at"]]
    unfinished = world["enr"].loc[world["enr"]["status"] != "completed", ["user_id", "course_id"]]
    wd = wd.merge(unfinished, on=["user_id", "course_id"])  # not stopped by reaching 100 % first
    e = ev.merge(wd, on=["user_id", "course_id"])
    first = e.groupby(["user_id", "course_id"])["occurred_at"].transform("min")
    e = e.loc[(first <= e["quit_at"] - 28 * DAY).to_numpy(dtype=bool)]  # active for four weeks before quitting
    before = (e["quit_at"] - e["occurred_at"]) / DAY
    last_two_weeks, two_weeks_before = int((before < 14).sum()), int(((before >= 14) & (before < 28)).sum())
    assert e[["user_id", "course_id"]].drop_duplicates().shape[0] >= 10
    # (XS seed 42: 162 vs 325 events; without the fade 199 vs 190)
    assert last_two_weeks < 0.8 * two_weeks_before, (last_two_weeks, two_weeks_before)


def test_scheduled_completion_tracks_submission_and_self_paced_dropout_is_inactivity(world, platform_xs):
    enr = world["enr"]
    done = enr.loc[enr["scheduled"] & (enr["status"] == "completed")]
    # graded at the run's end (or, rarely, completed by reaching 100 % before it)
    assert ((done["completed_at"] >= done["ends_at"]) | (done["progress_percent"] >= 99.9)).all()
    assert (done["completed_at"] >= done["ends_at"]).mean() > 0.9
    gone = enr.loc[enr["scheduled"] & (enr["status"] == "withdrawn")]
    assert done["progress_percent"].mean() > gone["progress_percent"].mean() + 20
    # self-paced: a learner who quit has no event after the quit instant
    truth = platform_xs.ground_truth()
    paced = truth.loc[~truth["scheduled"] & truth["quit_at"].notna()]
    last = world["ev"].groupby(["user_id", "course_id"])["occurred_at"].max().rename("last").reset_index()
    j = paced.merge(last, on=["user_id", "course_id"])
    assert len(j) > 100 and (j["last"] <= j["quit_at"] + pd.Timedelta(hours=6)).all()
    # latent risk drives it: learners who quit were less engaged
    quit = truth["quit_at"].notna() & (truth["quit_at"] < world["now"])
    assert truth.loc[quit, "engagement"].mean() < truth.loc[~quit, "engagement"].mean() - 0.05
