"""Run a learner-analytics quality suite on a DataFrame.

``validate(frame, suite_name) -> ValidationOutcome``. Critical expectations decide
``success``; ``warning`` ones are reported in ``warnings`` only.

Two evaluators of the same suite (``suites.checks``: GX expectation types and kwargs):

- ``engine="gx"`` (default): Great Expectations Core 1.x called directly, imported lazily and
  once per process: one ephemeral context with a pandas data source, one dataframe asset and
  whole-dataframe batch definition per suite, progress bars and usage analytics off.
- ``engine="pandas"`` (opt-in, ``quality_engine: pandas`` in an asset's run config): each expectation as one vectorised pandas expression, with
  GX's semantics (nulls skipped by range / set / mean checks; a pair with one side missing
  is unexpected unless ``ignore_row_if`` is ``either_value_is_missing``, both missing is skipped; duplicates count every row of a duplicated key).
  Milliseconds per chunk, and no GX import (~4 s and ~200 MB per process).
  ``tests/quality`` checks that both engines report the same failures.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analytics_pipeline.quality.suites import SUITES, Check, checks, expectations

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
    gx_runs: list[str] = field(default_factory=list)     # the GX runs' result formats, in order

    @property
    def success(self) -> bool:
        return not self.failures

    def merge(self, other: ValidationOutcome) -> ValidationOutcome:
        return ValidationOutcome(self.suite, self.evaluated + other.evaluated,
                                 self.rows + other.rows, self.failures + other.failures,
                                 self.warnings + other.warnings, self.gx_runs + other.gx_runs)

    def describe(self, which: str = "failures") -> str:
        items = getattr(self, which)
        return "; ".join(f"{f['expectation']}({f['column']}): {f['unexpected_count']} unexpected"
                         f"{', e.g. ' + str(f['sample']) if f['sample'] else ''}"
                         for f in items) or "none"


@lru_cache(maxsize=1)
def _context():
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from analytics_pipeline.quality.gx_import import gx  # analytics off before GX's import

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


def warm_up(suite_names=None) -> None:
    """Import GX and build the validation definitions of ``suite_names`` (default: every suite)
    before the first :func:`validate` needs them: the same cached objects, under the same lock
    (``orchestration/warmup.py`` calls it in a background thread as an in-process run starts)."""
    with _LOCK:
        for name in suite_names or SUITES:
            _validation_definition(name)


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


def _sample(values) -> list[str]:
    return [str(v) for v in list(values)[:SAMPLE_SIZE]]


def _evaluate(frame: pd.DataFrame, check: Check) -> tuple[bool, int, list[str]]:
    """(success, unexpected_count, sample) of one expectation, vectorised pandas."""
    kw, kind = check.kwargs, check.type
    if kind == "expect_column_values_to_not_be_null":
        bad = frame[kw["column"]].isna().to_numpy()
        return not bad.any(), int(bad.sum()), _sample(frame[kw["column"]][bad])
    if kind == "expect_compound_columns_to_be_unique":
        bad = frame.duplicated(kw["column_list"], keep=False).to_numpy()
        rows = frame.loc[bad, kw["column_list"]].head(SAMPLE_SIZE).to_dict("records")
        return not bad.any(), int(bad.sum()), _sample(rows)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = frame[kw["column_A"]], frame[kw["column_B"]]
        skipped = (a.isna() | b.isna()) if kw.get("ignore_row_if") == "either_value_is_missing" \
            else (a.isna() & b.isna())
        ok = (a >= b) if kw.get("or_equal") else (a > b)
        bad = ~ok.fillna(False).to_numpy(dtype=bool) & ~skipped.to_numpy()
        return not bad.any(), int(bad.sum()), _sample(zip(a[bad], b[bad]))
    if kind in ("expect_column_unique_value_count_to_be_between",
                "expect_table_row_count_to_be_between", "expect_column_mean_to_be_between"):
        if kind == "expect_table_row_count_to_be_between":
            observed = len(frame)
        elif kind == "expect_column_unique_value_count_to_be_between":
            observed = int(frame[kw["column"]].nunique())
        else:
            values = pd.to_numeric(frame[kw["column"]], errors="coerce")
            observed = float(values.mean()) if values.notna().any() else None
        lo, hi = kw.get("min_value"), kw.get("max_value")
        ok = observed is not None and (lo is None or observed >= lo) \
            and (hi is None or observed <= hi)
        return ok, 0, [str(observed)]
    column = frame[kw["column"]]
    present = column.notna().to_numpy()
    if kind == "expect_column_values_to_be_between":
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        lo, hi = kw.get("min_value"), kw.get("max_value")
        with np.errstate(invalid="ignore"):
            bad = np.zeros(len(column), dtype=bool)
            if lo is not None:
                bad |= values < lo
            if hi is not None:
                bad |= values > hi
        bad &= present
    elif kind == "expect_column_values_to_be_in_set":
        bad = ~column.isin(kw["value_set"]).to_numpy() & present
    else:
        raise ValueError(f"no pandas evaluator for {kind}")
    return not bad.any(), int(bad.sum()), _sample(column[bad])


def _validate_pandas(frame: pd.DataFrame, suite_name: str) -> ValidationOutcome:
    suite = checks(suite_name)
    outcome = ValidationOutcome(suite_name, evaluated=len(suite), rows=len(frame))
    for check in suite:
        success, count, sample = _evaluate(frame, check)
        if success:
            continue
        kw = check.kwargs
        column = kw.get("column") or kw.get("column_list") or (
            f"{kw.get('column_A')} > {kw.get('column_B')}" if "column_A" in kw else None)
        entry = {"expectation": check.type,
                 "column": str(column) if column is not None else "table",
                 "severity": check.severity, "unexpected_count": count, "sample": sample}
        (outcome.warnings if check.severity == "warning" else outcome.failures).append(entry)
    return outcome


def validate(frame: pd.DataFrame, suite_name: str, engine: str = "gx") -> ValidationOutcome:
    """Validate ``frame`` with suite ``suite_name`` (a key of ``quality.suites.SUITES``);
    ``engine`` ``"gx"`` (default) or ``"pandas"`` (see the module docstring)."""
    if suite_name not in SUITES:
        raise KeyError(f"no suite {suite_name!r}; known: {sorted(SUITES)}")
    if engine == "pandas":
        return _validate_pandas(frame, suite_name)
    if engine != "gx":
        raise ValueError(f"unknown validation engine {engine!r} (pandas or gx)")
    with _LOCK:
        definition = _validation_definition(suite_name)
        # the verdicts first (issue 18: GX's summaries of a passing chunk took ~0.3 s of its
        # ~0.75 s); the summaries (counts, samples) only when an expectation failed: the same outcome
        runs = ["BOOLEAN_ONLY"]
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="BOOLEAN_ONLY")
        if not all(r.success for r in result.results):
            runs.append("SUMMARY")
            result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    outcome = ValidationOutcome(suite_name, evaluated=len(result.results), rows=len(frame), gx_runs=runs)
    for r in result.results:
        if r.success:
            continue
        entry = _describe(r)
        (outcome.warnings if entry["severity"] == "warning" else outcome.failures).append(entry)
    return outcome
