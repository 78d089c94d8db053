"""The GX warm-up of an in-process run builds what the first validation would, with the same outcome."""
import sys


from analytics_pipeline.orchestration import warmup
from analytics_pipeline.quality import validation
from tests.quality.test_engines import _broken, _valid


def test_warm_up_thread_builds_the_suites_and_validation_is_unchanged():
    thread = warmup.start(["users", "mastery_analytics", "skill_gap_analytics"], None)
    assert thread is not None and thread.daemon
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert "great_expectations" in sys.modules
    built = validation._validation_definition.cache_info()
    for suite in ("mastery", "skill_gap"):
        before = validation._validation_definition.cache_info().hits
        validation._validation_definition(suite)  # already built by the warm-up: a cache hit
        assert validation._validation_definition.cache_info().hits == before + 1
    assert built.currsize >= 2
    for suite in ("mastery", "skill_gap"):
        assert validation.validate(_valid(suite), suite).success
        gx, pandas = validation.validate(_broken(suite), suite), validation.validate(_broken(suite), suite, engine="pandas")
        assert not gx.success
        key = lambda f: (f["expectation"], f["column"], f["unexpected_count"])  # noqa: E731
        assert sorted(map(key, gx.failures)) == sorted(map(key, pandas.failures))
