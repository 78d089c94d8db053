"""Pure tests of the contract table and the vectorised validation."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from analytics_pipeline.settings import reference_file
from analytics_pipeline.sources.contract import CONTRACT, ITEM, validate_rows

SCHEMAS = {
    "organizations": "Organization", "users": "User", "courses": "Course", "enrollments": "Enrollment",
    "skills": "Skill", "user-skills": "UserSkill", "content": "ContentItem", "assessment-results": "AssessmentResult",
    "learning-events": "LearningEvent", "user-preferences": "UserPreferences", "deletions": "Deletion",
}


@pytest.fixture(scope="module")
def openapi():
    return yaml.safe_load(reference_file("contracts/lms-api.openapi.yaml").read_text())


@pytest.mark.parametrize("resource", sorted(SCHEMAS))
def test_contract_table_matches_the_openapi_file(openapi, resource):
    schema = openapi["components"]["schemas"][SCHEMAS[resource]]
    fields = {f.name: f for f in CONTRACT[resource]}
    assert set(fields) == set(schema["properties"])
    assert {n for n, f in fields.items() if f.required} == set(schema["required"])
    for name, prop in schema["properties"].items():
        types = prop.get("type", [])
        types = types if isinstance(types, list) else [types]
        if "$ref" not in prop:
            assert fields[name].nullable == ("null" in types), name
        for bound in ("minimum", "maximum"):
            assert getattr(fields[name], bound) == prop.get(bound), (name, bound)
        if "enum" in prop:
            assert set(fields[name].values) == {v for v in prop["enum"] if v is not None}
    pages = openapi["paths"][f"/v1/{resource}"]["get"]["responses"]["200"]
    assert SCHEMAS[resource] in str(pages)


TS = "2025-01-06T10:00:00Z"


def event(**changes):
    row = {"id": "e1", "user_id": "u1", "course_id": "c1", "content_id": None, "content_type": "video",
           "event_type": "started", "occurred_at": TS, "duration_seconds": 30, "progress_delta": 1.5, "updated_at": TS}
    row.update(changes)
    return {k: v for k, v in row.items() if v != "<missing>"}


@pytest.mark.parametrize("changes, reason", [
    ({"user_id": "<missing>"}, "user_id: missing or null (required)"),
    ({"user_id": None}, "user_id: missing or null (required)"),
    ({"event_type": "jumped"}, "event_type: not one of started, progressed, completed"),
    ({"duration_seconds": "abc"}, "duration_seconds: not a number"),
    ({"duration_seconds": True}, "duration_seconds: not a number"),
    ({"duration_seconds": -1}, "duration_seconds: below 0"),
    ({"progress_delta": 150}, "progress_delta: above 100"),
    ({"occurred_at": "not-a-timestamp"}, "occurred_at: not an RFC 3339 timestamp"),
    ({"occurred_at": 1736157600}, "occurred_at: not a string"),
    ({"content_type": "podcast"}, "content_type: not one of video, reading, quiz, exercise, project"),
    # what the warehouse cannot store (contract.py docstring)
    ({"user_id": "u\x001"}, "user_id: contains a NUL character (U+0000), which PostgreSQL cannot store"),
    ({"user_id": "u\ud8001"}, "user_id: contains a lone UTF-16 surrogate (not valid Unicode text)"),
    ({"course_id": "c" * 70_000}, "course_id: longer than 65536 characters"),
    ({"duration_seconds": 1e16}, "duration_seconds: magnitude above 2^53 (not storable exactly)"),
    ({"duration_seconds": float("inf")}, "duration_seconds: not a finite number"),
    ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at: outside 1900-01-01 .. 2200-01-01 (not storable)"),
    ({"occurred_at": "9999-12-31T23:59:59Z"}, "occurred_at: outside 1900-01-01 .. 2200-01-01 (not storable)"),
])
def test_each_kind_of_invalid_row_is_rejected_with_its_reason(changes, reason):
    result = validate_rows("learning-events", [event(), event(id="e2", **changes)])
    assert result.valid["id"].tolist() == ["e1"]
    assert result.rejected[["source_id", "reason"]].values.tolist() == [["e2", reason]]
    assert '"id":"e2"' in result.rejected["payload"].iloc[0]


def test_unknown_fields_are_ignored_and_types_are_database_ready():
    result = validate_rows("learning-events", [event(x_note="unknown", x_meta={"a": 1})])
    assert result.rejected.empty
    assert "x_note" not in result.valid.columns
    assert result.valid["occurred_at"].iloc[0] == pd.Timestamp(TS)
    assert str(result.valid["occurred_at"].dt.tz) == "UTC"
    assert result.latest_updated_at == pd.Timestamp(TS)


def test_required_nullable_field_must_be_present_and_nested_items_are_checked():
    base = {"id": "u1", "email": "a@b", "roles": ["learner"], "created_at": TS, "updated_at": TS}
    rows = [
        {**base, "organization_id": None},
        {**base, "id": "u2"},  # organization_id missing
        {**base, "id": "u3", "organization_id": "o1", "roles": ["learner", "wizard"]},
        "not an object",
    ]
    result = validate_rows("users", rows)
    assert result.valid["id"].tolist() == ["u1"]
    assert result.rejected["reason"].tolist() == [
        "organization_id: missing (required)",
        "roles: item: not one of learner, trainer, org_admin, platform_admin",
        "row is not an object",
    ]
    course = {"id": "c1", "name": "C", "created_at": TS, "updated_at": TS}
    courses = validate_rows("courses", [
        {**course, "skills": [{"skill_id": "s1", "target_level": 80}], "expected_weeks": 4},
        {**course, "id": "c2", "skills": [{"skill_id": "s1", "target_level": 180}]},
        {**course, "id": "c3", "expected_weeks": 2.5},
    ])
    assert courses.valid["id"].tolist() == ["c1"]
    assert courses.rejected["reason"].tolist() == ["skills: target_level: above 100", "expected_weeks: not an integer"]


def test_composite_source_ids_and_invalid_timestamps_do_not_move_the_watermark():
    rows = [{"user_id": "u1", "skill_id": "s1", "mastery_level": 50, "updated_at": TS},
            {"user_id": "u1", "skill_id": "s2", "mastery_level": 500, "updated_at": "2025-02-01T00:00:00Z"},
            {"user_id": "u2", "skill_id": "s1", "mastery_level": 5, "updated_at": "garbage"}]
    result = validate_rows("user-skills", rows)
    assert result.rejected["source_id"].tolist() == ["u1:s2", "u2:s1"]
    assert result.latest_updated_at == pd.Timestamp("2025-02-01T00:00:00Z")


def test_nested_values_are_checked_for_storability_and_a_far_future_row_does_not_move_the_watermark():
    org = {"id": "o1", "name": "O", "settings": {"a": {"b": "x"}}, "created_at": TS, "updated_at": TS}
    result = validate_rows("organizations", [
        org, {**org, "id": "o2", "settings": {"a": {"k\x00": 1}}}, {**org, "id": "o3", "settings": {"k": "\\u0000"}},
        {**org, "id": "o4", "settings": {"k": "\udfff"}}, {**org, "id": "o5", "updated_at": "9999-01-01T00:00:00Z"},
    ])
    assert result.valid["id"].tolist() == ["o1", "o3"]  # o3 holds a backslash and "u0000", not a NUL
    assert result.rejected[["source_id", "reason"]].values.tolist() == [
        ["o2", "settings: contains a NUL character (U+0000), which PostgreSQL cannot store"],
        ["o4", "settings: contains a lone UTF-16 surrogate (not valid Unicode text)"],
        ["o5", "updated_at: outside 1900-01-01 .. 2200-01-01 (not storable)"]]
    assert result.latest_updated_at == pd.Timestamp(TS)
    course = {"id": "c1", "name": "C", "expected_weeks": 1e12, "skills": [{"skill_id": "s\x00", "target_level": 5}],
              "created_at": TS, "updated_at": TS}
    reasons = validate_rows("courses", [course, {**course, "id": "c2", "expected_weeks": 3}]).rejected["reason"].tolist()
    assert reasons == ["expected_weeks: outside the integer range (not storable)",
                       "skills: skill_id: contains a NUL character (U+0000), which PostgreSQL cannot store"]
