"""Analytics layer: the six learner analytics as pure pandas functions.

No Dagster, no database, no I/O: each ``compute_<name>(frames..., T, config)`` takes raw
cache frames (column names of docs/raw-schema.md) and the snapshot instant ``T`` and returns
the rows of one seed table (all columns but ``id``). See docs/analytics.md.

``CATEGORIES[name] = (compute function, table name)``; ``INPUTS[name]`` lists the frames the
function takes, in its positional order (names of :class:`AnalyticsInputs` fields), so that
``compute(name, inputs, T)`` can call any category uniformly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .content_effectiveness import ContentEffectivenessConfig, compute_content_effectiveness
from .engagement import EngagementConfig, compute_engagement
from .mastery import MasteryConfig, compute_mastery
from .performance import PerformanceConfig, compute_performance
from .skill_gap import SkillGapConfig, compute_skill_gap
from .velocity import VelocityConfig, compute_velocity


@dataclass(frozen=True)
class AnalyticsInputs:
    """Raw cache frames (any may be None when no category that needs it is computed).

    Columns needed (others are ignored):
    users: id; enrollments: user_id, course_id, enrolled_at, target_completion_at,
    completed_at, withdrawn_at, progress_percent; courses: id, expected_weeks;
    course_skills: course_id, skill_id, target_level; skills: id, name;
    user_skills: user_id, skill_id, mastery_level, last_assessed_at;
    content_items: id, title, content_type, skill_ids;
    assessment_results: id, user_id, assessment_id, skill_id, score, passing_score,
    submitted_at; learning_events: user_id, course_id, content_id, content_type, event_type,
    occurred_at, duration_seconds, progress_delta; session_parts (engagement, read from the
    daily activity rollup): user_id, start_at, last_at, last_duration.
    """
    users: pd.DataFrame | None = None
    enrollments: pd.DataFrame | None = None
    courses: pd.DataFrame | None = None
    course_skills: pd.DataFrame | None = None
    skills: pd.DataFrame | None = None
    user_skills: pd.DataFrame | None = None
    content_items: pd.DataFrame | None = None
    assessment_results: pd.DataFrame | None = None
    learning_events: pd.DataFrame | None = None
    session_parts: pd.DataFrame | None = None


CATEGORIES = {
    "velocity": (compute_velocity, "learner_velocity_analytics"),
    "skill_gap": (compute_skill_gap, "skill_gap_analytics"),
    "engagement": (compute_engagement, "engagement_analytics"),
    "mastery": (compute_mastery, "mastery_analytics"),
    "performance": (compute_performance, "performance_analytics"),
    "content_effectiveness": (compute_content_effectiveness, "content_effectiveness_analytics"),
}

#: Frames each category's function takes, in positional order (then ``T``, ``config``).
INPUTS: dict[str, tuple[str, ...]] = {
    "velocity": ("enrollments", "courses", "learning_events"),
    "skill_gap": ("enrollments", "course_skills", "user_skills", "skills"),
    "engagement": ("enrollments", "learning_events"),
    "mastery": ("user_skills", "skills", "enrollments"),
    "performance": ("assessment_results", "enrollments", "skills"),
    "content_effectiveness": ("enrollments", "content_items", "learning_events",
                              "assessment_results", "course_skills", "user_skills", "skills"),
}

#: Frames a category takes by keyword, only when present (a maintained table's pre-aggregated
#: form of its raw input: engagement's sessions cut at UTC days, issue 18).
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {"engagement": ("session_parts",)}

CONFIGS = {
    "velocity": VelocityConfig,
    "skill_gap": SkillGapConfig,
    "engagement": EngagementConfig,
    "mastery": MasteryConfig,
    "performance": PerformanceConfig,
    "content_effectiveness": ContentEffectivenessConfig,
}


def compute(name: str, inputs: AnalyticsInputs, T: pd.Timestamp, config: Any = None
            ) -> pd.DataFrame:
    """Run category ``name`` on ``inputs`` (default config when ``config`` is None)."""
    fn, _table = CATEGORIES[name]
    frames = [getattr(inputs, f) for f in INPUTS[name]]
    optional = {f: getattr(inputs, f) for f in OPTIONAL_INPUTS.get(name, ())
                if getattr(inputs, f) is not None}
    return fn(*frames, T, config if config is not None else CONFIGS[name](), **optional)


__all__ = [
    "AnalyticsInputs", "CATEGORIES", "CONFIGS", "INPUTS", "OPTIONAL_INPUTS", "compute",
    "compute_velocity", "compute_skill_gap", "compute_engagement", "compute_mastery",
    "compute_performance", "compute_content_effectiveness",
    "VelocityConfig", "SkillGapConfig", "EngagementConfig", "MasteryConfig",
    "PerformanceConfig", "ContentEffectivenessConfig",
]
