"""Great Expectations suites of the six learner analytics, built from one small table.

Each analytics frame is validated before it is written (``validation.validate``). A suite is
built from :data:`SUITES` ``[category]`` (a :class:`SuiteSpec`):

- ``required``: columns that must not be null;
- ``ranges``: ``column -> (min, max)`` inclusive (``None`` = unbounded) — scores 0-100, pass
  rate **percent** 0-100 (docs/analytics.md), counts >= 0, ``numeric(5,2)`` values within
  ±999.99;
- ``sets``: ``column -> allowed values`` (documented enums);
- ``ordered``: ``(a, b, or_equal)`` column pairs with a > b (or >=) on every row where both
  are present (a null is a documented "no data", checked by ``required``);
- ``warn_means``: ``column -> (min, max)`` for the column mean — distribution sanity, only a
  warning.

Every suite also has: ``user_id`` + ``calculated_at`` unique (one row per learner per
snapshot), ``expires_at > calculated_at``, ``calculated_at`` one value (one snapshot per
frame); and, as a warning, at least one row. Expectations listed under ``warn_*`` get GX
severity ``warning``; all others ``critical`` (they stop the write).

:func:`checks` lists a suite's expectations as data (GX type name, severity, kwargs);
:func:`expectations` builds the GX objects from that list.
"""
from __future__ import annotations

from dataclasses import dataclass, field

PERCENT_CAP = 999.99
#: Largest value of ``numeric(16,2)`` (velocity's target pace with the real time left).
TARGET_PACE_CAP = 99_999_999_999_999.99
STAMPS = ["user_id", "calculated_at", "expires_at"]


@dataclass(frozen=True)
class SuiteSpec:
    required: tuple[str, ...]
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ordered: tuple[tuple[str, str, bool], ...] = ()
    warn_means: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


SUITES: dict[str, SuiteSpec] = {
    "velocity": SuiteSpec(
        required=("current_pace", "target_pace", "trend_direction", "trend_percentage", "status"),
        ranges={"current_pace": (-PERCENT_CAP, PERCENT_CAP), "target_pace": (0, TARGET_PACE_CAP),
                "trend_percentage": (-PERCENT_CAP, PERCENT_CAP)},
        sets={"trend_direction": ("accelerating", "stable", "declining"),
              "status": ("ahead", "on_track", "behind", "at_risk")},
        warn_means={"current_pace": (0, 100)},
    ),
    "skill_gap": SuiteSpec(
        required=("total_gaps", "critical_gaps", "gaps"),
        ranges={"total_gaps": (0, None), "critical_gaps": (0, None)},
        ordered=(("total_gaps", "critical_gaps", True),),
    ),
    "engagement": SuiteSpec(
        # last_active: null when the learner has no activity (issue 15)
        required=("overall_score", "trend", "sessions_per_week", "avg_session_duration",
                  "engagement_by_type", "weekly_trend"),
        ranges={"overall_score": (0, 100), "sessions_per_week": (0, PERCENT_CAP),
                "avg_session_duration": (0, None)},
        sets={"trend": ("rising", "falling", "stable")},
        ordered=(("calculated_at", "last_active", True),),
        warn_means={"overall_score": (1, 99)},
    ),
    "mastery": SuiteSpec(
        required=("mastered_skills", "in_progress_skills", "skills", "mastery_distribution"),
        ranges={"mastered_skills": (0, None), "in_progress_skills": (0, None)},
    ),
    "performance": SuiteSpec(
        # avg_score, pass_rate, trend: null when the learner has no result (issue 15)
        required=("assessments_taken", "performance_by_skill", "recent_scores"),
        ranges={"avg_score": (0, 100), "pass_rate": (0, 100), "assessments_taken": (0, None)},
        sets={"trend": ("improving", "declining", "stable")},
        warn_means={"avg_score": (1, 99)},
    ),
    "content_effectiveness": SuiteSpec(
        required=("most_effective", "least_effective", "recommendations"),
    ),
}


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: GX expectation type (snake case), severity, kwargs."""
    type: str
    severity: str
    kwargs: dict


def checks(name: str) -> list[Check]:
    """The expectations of category ``name`` as plain data (no GX import).

    Both evaluators read this list: :func:`expectations` builds the GX objects from it, and
    ``validation`` evaluates it with vectorised pandas (the default path).
    """
    spec = SUITES[name]
    critical, warning = "critical", "warning"
    out = [Check("expect_column_values_to_not_be_null", critical, {"column": c})
           for c in (*STAMPS, *spec.required)]
    out.append(Check("expect_compound_columns_to_be_unique", critical,
                     {"column_list": ["user_id", "calculated_at"]}))
    out.append(Check("expect_column_pair_values_a_to_be_greater_than_b", critical,
                     {"column_A": "expires_at", "column_B": "calculated_at", "or_equal": False}))
    out.append(Check("expect_column_unique_value_count_to_be_between", critical,
                     {"column": "calculated_at", "min_value": 0, "max_value": 1}))
    for column, (lo, hi) in spec.ranges.items():
        out.append(Check("expect_column_values_to_be_between", critical,
                         {"column": column, "min_value": lo, "max_value": hi}))
    for column, values in spec.sets.items():
        out.append(Check("expect_column_values_to_be_in_set", critical,
                         {"column": column, "value_set": list(values)}))
    for a, b, or_equal in spec.ordered:
        out.append(Check("expect_column_pair_values_a_to_be_greater_than_b", critical,
                         {"column_A": a, "column_B": b, "or_equal": or_equal,
                          "ignore_row_if": "either_value_is_missing"}))
    out.append(Check("expect_table_row_count_to_be_between", warning,
                     {"min_value": 1, "max_value": None}))
    for column, (lo, hi) in spec.warn_means.items():
        out.append(Check("expect_column_mean_to_be_between", warning,
                         {"column": column, "min_value": lo, "max_value": hi}))
    return out


_GX_CLASSES = {
    "expect_column_values_to_not_be_null": "ExpectColumnValuesToNotBeNull",
    "expect_compound_columns_to_be_unique": "ExpectCompoundColumnsToBeUnique",
    "expect_column_pair_values_a_to_be_greater_than_b": "ExpectColumnPairValuesAToBeGreaterThanB",
    "expect_column_unique_value_count_to_be_between": "ExpectColumnUniqueValueCountToBeBetween",
    "expect_column_values_to_be_between": "ExpectColumnValuesToBeBetween",
    "expect_column_values_to_be_in_set": "ExpectColumnValuesToBeInSet",
    "expect_table_row_count_to_be_between": "ExpectTableRowCountToBeBetween",
    "expect_column_mean_to_be_between": "ExpectColumnMeanToBeBetween",
}


def expectations(name: str) -> list:
    """The GX expectation objects of category ``name`` (imports GX: call lazily)."""
    import great_expectations.expectations as gxe

    return [getattr(gxe, _GX_CLASSES[c.type])(**c.kwargs, severity=c.severity)
            for c in checks(name)]
