"""The replay mode: the OULAD 2013 recording served through the contract over real HTTP, only
what was known at the chosen instant."""
import shutil

import pandas as pd
import pytest

from analytics_pipeline.sandbox import start_in_thread
from analytics_pipeline.sandbox.replay import ReplayPlatform
from analytics_pipeline.settings import reference_file
from analytics_pipeline.sources.contract import validate_rows
from tests.sandbox.conftest import RESOURCES, TOKEN, Client

OULAD = reference_file("data/oulad-2013")
NOW = pd.Timestamp("2013-10-01", tz="UTC") + pd.Timedelta(days=67)  # 25 % of 2013J's 268 days


@pytest.fixture(scope="module")
def replay():
    handle = start_in_thread(ReplayPlatform(OULAD, "2013J:0.25"), token=TOKEN)
    yield Client(handle)
    handle.stop()


def frame(client, resource) -> pd.DataFrame:
    rows = client.read_all(resource)
    checked = validate_rows(resource, rows)
    assert checked.rejected.empty, checked.rejected.head().to_dict("records")
    return checked.valid


def test_every_resource_conforms_and_only_the_past_is_served(replay):
    state = replay.session.get(f"{replay.url}/_sandbox/state", timeout=30).json()
    assert pd.Timestamp(state["now"]) == NOW
    data = {r: frame(replay, r) for r in RESOURCES}
    courses = data["courses"].set_index("id")
    assert len(courses) == 9 and courses["starts_at"].notna().all()
    assert courses.loc["AAA-2013J", "ends_at"] - courses.loc["AAA-2013J", "starts_at"] == pd.Timedelta(days=268)
    assert data["content"]["due_at"].notna().all() and data["content"]["weight"].notna().all()
    for empty in ("skills", "user-skills", "assessment-results", "user-preferences", "deletions"):
        assert data[empty].empty
    events, enr = data["learning-events"], data["enrollments"]
    assert (events["occurred_at"] <= NOW).all() and len(events) > 40_000
    assert (enr["enrolled_at"] <= NOW).all()
    j = enr.loc[enr["course_id"].str.endswith("2013J")]
    # no 2013J outcome after now leaks: nothing completed, withdrawals only those already past
    assert j["completed_at"].isna().all() and (j["withdrawn_at"].dropna() <= NOW).all()
    assert set(j["status"]) == {"active", "withdrawn"}
    b = enr.loc[enr["course_id"].str.endswith("2013B")]
    info = pd.read_csv(OULAD / "studentInfo.csv").query("code_presentation == '2013B'")
    assert len(b) == len(info)  # the finished presentation is history: every registration has its outcome
    assert (b["status"] == "withdrawn").sum() == (info["final_result"] == "Withdrawn").sum()
    assert (b["status"] == "completed").sum() == info["final_result"].isin(["Pass", "Distinction", "Fail"]).sum()


def test_advancing_reveals_the_next_days(replay):
    before = len(replay.read_all("learning-events"))
    replay.handle.advance(30)
    try:
        assert len(replay.read_all("learning-events")) > before
    finally:
        replay.handle.server.platform.now -= 30 * 86_400


def test_bad_recordings_and_instants_get_clear_errors(tmp_path):
    shutil.copytree(OULAD, tmp_path / "rec")
    (tmp_path / "rec" / "studentInfo.csv").unlink()
    with pytest.raises(FileNotFoundError, match="missing studentInfo.csv"):
        ReplayPlatform(tmp_path / "rec", "2013J:0.25")
    with pytest.raises(ValueError, match="presentation '2014J' is not in the recording"):
        ReplayPlatform(OULAD, "2014J:0.25")
    assert pd.Timestamp(ReplayPlatform(OULAD, "2013-12-07").state()["now"]) == NOW
