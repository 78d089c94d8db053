"""The mapping table on statement shapes published by ADL/cmi5, the video profile and Open edX, and on
bad statements (each quarantined with its reason, none a crash). Pure: no database, no server."""
import hashlib

import pandas as pd
import pytest

from analytics_pipeline.sources.xapi_mapping import duration_seconds, map_statements

PLATFORM = "https://lms.example.org"
ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = {"id": f"{PLATFORM}/course/course-v1:edX+DemoX+Demo_Course",
          "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
ACCOUNT = {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": "learner-1"}}
STORED = "2026-05-02T00:00:00+00:00"


def statement(n: int, verb: str, object_type: str = "http://adlnet.gov/expapi/activities/lesson", **extra) -> dict:
    base = {"id": f"00000000-0000-4000-8000-{n:012d}", "actor": ACCOUNT, "verb": {"id": verb},
            "object": {"objectType": "Activity", "id": f"{PLATFORM}/xblock/block-{n}",
                       "definition": {"type": object_type, "name": {"en-US": f"Block {n}"}}},
            "context": {"contextActivities": {"parent": [COURSE]}},
            "timestamp": "2026-05-01T10:00:00Z", "stored": STORED}
    return {**base, **extra}


def test_adl_cmi5_and_video_verbs_become_events_with_progress_and_duration():
    mapped = map_statements([
        statement(1, ADL + "initialized"),
        statement(2, ADL + "progressed", result={"duration": "PT1M30.5S",
                                                 "extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 40}}),
        statement(3, "https://w3id.org/xapi/video/verbs/paused", "https://w3id.org/xapi/video/activity-type/video",
                  result={"extensions": {"https://w3id.org/xapi/video/extensions/progress": 0.25}}),
        statement(4, ADL + "completed", result={"duration": "PT1H"}),
        statement(5, "https://w3id.org/xapi/video/verbs/played"),  # known, nothing to keep
    ], PLATFORM)
    events = mapped.events.set_index("id")
    assert list(events["event_type"]) == ["started", "progressed", "progressed", "completed"]
    assert events["course_id"].unique().tolist() == ["course-v1:edX+DemoX+Demo_Course"]
    assert events["content_id"].iloc[0] == "block-1"
    assert events["duration_seconds"].tolist()[1:4:2] == [90.5, 3600.0]
    assert events["progress"].tolist()[1:3] == [40.0, 25.0]
    assert events["content_type"].tolist()[2] == "video"
    assert mapped.skipped == 1 and mapped.rejected.empty
    assert mapped.latest_stored == pd.Timestamp(STORED)


def test_scores_scaled_or_raw_over_max_and_the_cmi5_mastery_score():
    mapped = map_statements([
        statement(1, ADL + "passed", result={"score": {"scaled": 0.875}},
                  context={"contextActivities": {"parent": [COURSE]},
                           "extensions": {"https://w3id.org/xapi/cmi5/context/extensions/masteryscore": 0.7}}),
        # Open edX problem_check (server): raw / max
        statement(2, "https://w3id.org/xapi/acrossx/verbs/evaluated", "http://adlnet.gov/expapi/activities/cmi.interaction",
                  result={"score": {"raw": 3, "min": 0, "max": 4}, "success": False}),
        # Open edX course grade
        statement(3, "http://id.tincanapi.com/verb/earned", "http://adlnet.gov/expapi/activities/course",
                  result={"score": {"scaled": 0.5, "raw": 50, "max": 100}}),
        # Open edX graded problem submission: `attempted` with a score
        statement(4, ADL + "attempted", "http://adlnet.gov/expapi/activities/question",
                  result={"score": {"max": 2, "min": 0, "raw": 1, "scaled": 0.5}, "success": False}),
        statement(5, ADL + "attempted"),  # without a score: a start
    ], PLATFORM, default_passing_score=55)
    results = mapped.results
    assert results["score"].tolist() == [87.5, 75.0, 50.0, 50.0]
    assert results["passing_score"].tolist() == [70.0, 55.0, 55.0, 55.0]
    assert results["assessment_id"].tolist()[:2] == ["block-1", "block-2"]
    assert mapped.events["event_type"].tolist() == ["started"] and mapped.events["content_id"].tolist() == ["block-5"]


def test_open_edx_enrollment_signals():
    mapped = map_statements([
        statement(1, ADL + "registered", "http://adlnet.gov/expapi/activities/course", object=COURSE,
                  actor={"objectType": "Agent", "openid": "https://openedx.org/users/user-v1/32e08e30"}),
        statement(2, "http://id.tincanapi.com/verb/unregistered", object=COURSE),
        statement(3, ADL + "completed", object=COURSE),
    ], PLATFORM)
    assert mapped.events.empty  # course-level statements are not learning events
    assert mapped.enrollments["kind"].tolist() == ["enrol", "withdraw", "completed"]
    assert set(mapped.enrollments["course_id"]) == {"course-v1:edX+DemoX+Demo_Course"}
    assert mapped.enrollments["user_id"].iloc[0].startswith("openid:")


def test_identities_are_stable_and_no_address_is_kept():
    mail = "mailto:Ada@Example.com"
    mapped = map_statements([
        statement(1, ADL + "initialized", actor={"mbox": mail}),
        statement(2, ADL + "initialized", actor={"mbox_sha1sum": hashlib.sha1(mail.encode()).hexdigest().upper()}),
        statement(3, ADL + "initialized", actor={"account": {"homePage": "https://other.example", "name": "42"}}),
        statement(4, ADL + "initialized", actor={"objectType": "Group", "member": [{"mbox": mail}]}),
    ], PLATFORM)
    ids = mapped.events["user_id"].tolist()
    assert ids[0] == ids[1] == "mbox-sha1:" + hashlib.sha1(mail.encode()).hexdigest()
    assert ids[2].startswith("xapi-account:") and "42" not in ids[2]
    assert not any("Example.com" in i for i in ids)
    assert mapped.rejected["reason"].tolist() == [
        "actor: missing or without an identity (account, mbox, mbox_sha1sum, openid)"]


@pytest.mark.parametrize("change, reason", [
    ({"verb": {"id": "https://example.org/verbs/juggled"}}, "verb: unknown https://example.org/verbs/juggled"),
    ({"verb": None}, "verb: missing"),
    ({"actor": None}, "actor: missing"),
    ({"object": {"objectType": "Activity"}}, "object: missing id"),
    ({"id": None}, "id: missing"),
    ({"timestamp": "yesterday"}, "timestamp: missing or not an ISO 8601"),
    ({"timestamp": "1970-01-01T00:00:00Z"}, "timestamp: absurd"),
    ({"timestamp": "2999-01-01T00:00:00Z"}, "timestamp: absurd"),
    ({"stored": None}, "stored: missing"),
    ({"verb": {"id": ADL + "scored"}, "result": {"score": {"scaled": 12}}}, "score: outside 0-100"),
    ({"verb": {"id": ADL + "scored"}, "result": {"score": {"raw": -5, "max": 10}}}, "score: outside 0-100"),
    ({"verb": {"id": ADL + "scored"}, "result": {"success": True}}, "score: no result.score.scaled"),
    ({"verb": {"id": ADL + "scored"}, "result": {"score": {"scaled": "high"}}}, "score: no result.score.scaled"),
    ({"result": {"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 250}}}, "progress: cmi5"),
    ({"result": {"duration": "P1M"}}, "duration: not an ISO 8601"),
    ({"result": {"duration": 90}}, "duration: not an ISO 8601"),
    ({"verb": {"id": ADL + "voided"}}, "void: object is not a StatementRef"),
])
def test_bad_statements_are_quarantined_with_their_reason(change, reason):
    bad = {k: v for k, v in {**statement(9, ADL + "initialized"), **change}.items() if v is not None}
    mapped = map_statements([statement(1, ADL + "initialized"), bad, "not a statement"], PLATFORM)
    assert len(mapped.events) == 1
    assert mapped.results.empty
    reasons = mapped.rejected["reason"].tolist()
    assert reasons[0].startswith(reason), reasons
    assert reasons[1] == "statement is not an object"
    assert '"stored"' in mapped.rejected["payload"].iloc[0] or reason.startswith("stored")


def test_voids_name_their_target_and_old_statements_are_dropped():
    void = {"id": "00000000-0000-4000-8000-00000000000a", "actor": ACCOUNT, "verb": {"id": ADL + "voided"},
            "object": {"objectType": "StatementRef", "id": "00000000-0000-4000-8000-000000000001"},
            "timestamp": "2026-05-01T11:00:00Z", "stored": STORED}
    old = statement(2, ADL + "initialized", stored="2026-04-01T00:00:00Z")
    mapped = map_statements([statement(1, ADL + "initialized"), void, old], PLATFORM,
                            after=pd.Timestamp("2026-04-15", tz="UTC"))
    assert mapped.voided.tolist() == ["00000000-0000-4000-8000-000000000001"]
    assert mapped.already_loaded == 1 and len(mapped.events) == 1 and mapped.rejected.empty


def test_iso_8601_durations():
    seconds, bad = duration_seconds(pd.Series(["PT0S", "PT2H30M", "P1DT0.5S", "P2W", "PT", "P1Y", None, "1h"]))
    assert seconds.tolist()[:4] == [0.0, 9000.0, 86400.5, 1209600.0]
    assert bad.tolist() == [False, False, False, False, True, True, False, True]  # "PT" names no component
