"""Run a Great Expectations suite (GX Core 1.x, called directly) on a DataFrame.

``validate(frame, suite_name) -> ValidationOutcome``. GX is imported lazily (its import takes
seconds) and once per process: one ephemeral context with a pandas data source, one dataframe
asset and whole-dataframe batch definition per suite, progress bars and usage analytics off.
Critical expectations decide ``success``; ``warning`` ones are reported in ``warnings`` only.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from analytics_pipeline.quality.suites import SUITES, expectations

_LOCK = threading.Lock()
SAMPLE_SIZE = 5


@dataclass
class ValidationOutcome:
    """Result of one or more validations of the same suite (chunks merged with ``merge``)."""

    suite: str
    evaluated: int = 0            # expectations evaluated (per validation, summed)
    rows: int = 0
    failures: list[dict] = field(default_factory=list)   # critical expectations that failed
    warnings: list[dict] = field(default_factory=list)   # warning expectations that failed

    @property
    def success(self) -> bool:
        return not self.failures

    def merge(self, other: ValidationOutcome) -> ValidationOutcome:
        return ValidationOutcome(self.suite, self.evaluated + other.evaluated,
                                 self.rows + other.rows, self.failures + other.failures,
                                 self.warnings + other.warnings)

    def describe(self, which: str = "failures") -> str:
        items = getattr(self, which)
        return "; ".join(f"{f['expectation']}({f['column']}): {f['unexpected_count']} unexpected"
                         f"{', e.g. ' + str(f['sample']) if f['sample'] else ''}"
                         for f in items) or "none"


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                         metric_calculations=False)
    context.data_sources.add_pandas("learner_analytics")
    return context


@lru_cache(maxsize=None)
def _validation_definition(suite_name: str):
    import great_expectations as gx

    context = _context()
    source = context.data_sources.get("learner_analytics")
    batch = source.add_dataframe_asset(suite_name).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for expectation in expectations(suite_name):
        suite.add_expectation(expectation)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))


def _describe(result) -> dict:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or kwargs.get("column_list") or (
        f"{kwargs.get('column_A')} > {kwargs.get('column_B')}" if "column_A" in kwargs else None)
    res = result.result or {}
    sample = [str(v) for v in (res.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]]
    if not sample and "observed_value" in res:
        sample = [str(res["observed_value"])]
    return {"expectation": config.type, "column": str(column) if column is not None else "table",
            "severity": str(getattr(config.severity, "value", config.severity)),
            "unexpected_count": int(res.get("unexpected_count") or 0), "sample": sample}


def validate(frame: pd.DataFrame, suite_name: str) -> ValidationOutcome:
    """Validate ``frame`` with suite ``suite_name`` (a key of ``quality.suites.SUITES``)."""
    if suite_name not in SUITES:
        raise KeyError(f"no suite {suite_name!r}; known: {sorted(SUITES)}")
    with _LOCK:
        definition = _validation_definition(suite_name)
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    outcome = ValidationOutcome(suite_name, evaluated=len(result.results), rows=len(frame))
    for r in result.results:
        if r.success:
            continue
        entry = _describe(r)
        (outcome.warnings if entry["severity"] == "warning" else outcome.failures).append(entry)
    return outcome
