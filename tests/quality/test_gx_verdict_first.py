"""Issue 18: the GX engine asks for the verdicts first (``BOOLEAN_ONLY``) and for the summaries
(counts, samples) only when an expectation failed. A passing chunk is one cheap run; a failing
one reports exactly what a ``SUMMARY`` run alone reports."""
import pytest

from analytics_pipeline.quality import validation
from analytics_pipeline.quality.suites import SUITES
from analytics_pipeline.quality.validation import ValidationOutcome, _describe, validate
from tests.quality.test_engines import _broken, _valid


def _summary_only(frame, name) -> ValidationOutcome:
    """The outcome of one SUMMARY run (the engine before this change)."""
    result = validation._validation_definition(name).run(batch_parameters={"dataframe": frame},
                                                         result_format="SUMMARY")
    outcome = ValidationOutcome(name, evaluated=len(result.results), rows=len(frame))
    for r in result.results:
        if not r.success:
            entry = _describe(r)
            (outcome.warnings if entry["severity"] == "warning" else outcome.failures).append(entry)
    return outcome


@pytest.mark.parametrize("name", ["engagement", "performance"])
def test_verdicts_first_then_summaries_only_on_failure(name):
    assert name in SUITES
    valid = _valid(name)
    outcome = validate(valid, name)
    assert outcome.success and not outcome.warnings and outcome.gx_runs == ["BOOLEAN_ONLY"]

    broken = _broken(name)
    outcome = validate(broken, name)
    assert outcome.gx_runs == ["BOOLEAN_ONLY", "SUMMARY"]
    reference = _summary_only(broken, name)
    assert not outcome.success and outcome.failures == reference.failures
    assert outcome.warnings == reference.warnings and outcome.evaluated == reference.evaluated
    assert any(f["unexpected_count"] > 0 and f["sample"] for f in outcome.failures)
