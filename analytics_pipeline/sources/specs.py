"""The one table that describes every extracted resource: endpoint, target table, parents, children.

The asset factory (``assets/sources.py``), the loader and the deletions all read ``SOURCES``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from analytics_pipeline.sources.contract import CONTRACT


@dataclass(frozen=True)
class Parent:
    """A foreign key of the target table: rows whose ``column`` names no ``table``.id are orphans."""

    column: str
    table: str


@dataclass(frozen=True)
class Child:
    """A table filled from a nested list of the parent rows (replaced whenever the parent row is)."""

    table: str
    parent_column: str
    key: tuple[str, ...]
    build: Callable[[pd.DataFrame], pd.DataFrame]  # valid parent rows -> child rows (+ parent_updated_at)


def _user_roles(users: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, role); the API publishes no grant time, so granted_at = the user's created_at."""
    roles = users[["id", "roles", "created_at", "updated_at"]].explode("roles").dropna(subset=["roles"])
    return pd.DataFrame({
        "id": roles["id"] + ":" + roles["roles"].astype(str),
        "user_id": roles["id"],
        "role": roles["roles"].astype(str),
        "granted_at": roles["created_at"],
        "parent_updated_at": roles["updated_at"],
    })


def _course_skills(courses: pd.DataFrame) -> pd.DataFrame:
    pairs = courses[["id", "skills", "updated_at"]].explode("skills").dropna(subset=["skills"])
    items = pd.DataFrame.from_records(pairs["skills"].tolist(), columns=["skill_id", "target_level"])
    return pd.DataFrame({
        "course_id": pairs["id"].to_numpy(),
        "skill_id": items["skill_id"].to_numpy(),
        "target_level": items["target_level"].astype(float).to_numpy(),
        "parent_updated_at": pairs["updated_at"].to_numpy(),
    })


@dataclass(frozen=True)
class SourceSpec:
    """One API resource and where it lands."""

    resource: str  # the API's name: GET /v1/<resource>
    table: str  # the raw table (also the asset's name)
    description: str
    deps: tuple[str, ...] = ()  # assets (tables) loaded first
    parents: tuple[Parent, ...] = ()
    renames: dict[str, str] = field(default_factory=dict)  # contract field -> column
    json_columns: tuple[str, ...] = ()
    array_columns: tuple[str, ...] = ()
    composite_id: tuple[str, ...] = ()  # the table's id is these fields joined with ':'
    key: str = "id"
    child: Child | None = None

    @property
    def nested_fields(self) -> tuple[str, ...]:
        """Contract fields that do not become columns of the table (they feed the child table)."""
        return {"users": ("roles",), "courses": ("skills",)}.get(self.resource, ())

    @property
    def columns(self) -> list[str]:
        """The target table's columns, in the order of the contract."""
        names = [self.renames.get(f.name, f.name) for f in CONTRACT[self.resource] if f.name not in self.nested_fields]
        return (["id"] if self.composite_id else []) + names

    def table_frame(self, valid: pd.DataFrame) -> pd.DataFrame:
        """Validated rows -> rows of the target table."""
        frame = valid.rename(columns=self.renames)
        for column in self.array_columns:  # an omitted list (the contract allows it) is the column's default, {}
            frame[column] = frame[column].map(lambda items: items if isinstance(items, list) else [])
        if self.composite_id:
            parts = [frame[c].astype(str) for c in self.composite_id]
            frame = frame.assign(id=parts[0].str.cat(parts[1:], sep=":"))
        return frame[self.columns]


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("organizations", "organizations", "Organizations (tenants) of the LMS.", json_columns=("settings",)),
    SourceSpec("skills", "skills", "The skill catalogue."),
    SourceSpec(
        "users", "users", "The user directory (no credentials); also replaces each user's rows of user_roles.",
        deps=("organizations",), parents=(Parent("organization_id", "organizations"),),
        child=Child("user_roles", "user_id", ("user_id", "role"), _user_roles),
    ),
    SourceSpec(
        "courses", "courses", "Courses; also replaces each course's rows of course_skills (target levels).",
        deps=("organizations", "skills"), child=Child("course_skills", "course_id", ("course_id", "skill_id"), _course_skills),
    ),
    SourceSpec(
        "enrollments", "enrollments", "Enrollments of learners in courses.", deps=("users", "courses"),
        parents=(Parent("user_id", "users"), Parent("course_id", "courses")),
    ),
    SourceSpec(
        "user-skills", "user_skills", "Each learner's mastery level per skill (id = user_id:skill_id).",
        deps=("users", "skills"), parents=(Parent("user_id", "users"), Parent("skill_id", "skills")),
        composite_id=("user_id", "skill_id"),
    ),
    SourceSpec("content", "content_items", "Content items of the courses.", deps=("courses",), array_columns=("skill_ids",)),
    SourceSpec("assessment-results", "assessment_results", "Assessment results.", deps=("users", "courses")),
    SourceSpec(
        "learning-events", "learning_events", "Learning events (append-only; late arrivals by updated_at).",
        deps=("users", "courses", "content_items"),
    ),
    SourceSpec(
        "user-preferences", "user_preferences", "Privacy and notification preferences of each user.",
        deps=("users",), parents=(Parent("user_id", "users"),), key="user_id",
        renames={"predictive_enabled": "predictive_analytics_enabled"},
        json_columns=("predictive_analytics_enabled", "notification_preferences"),
    ),
)

SOURCES_BY_RESOURCE = {spec.resource: spec for spec in SOURCES}
DELETIONS_RESOURCE = "deletions"
