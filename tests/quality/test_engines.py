"""The vectorised pandas evaluator reports what Great Expectations reports, suite by suite."""
import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.quality.suites import SUITES
from analytics_pipeline.quality.validation import validate

T = pd.Timestamp("2025-03-01", tz="UTC")


def _valid(name: str, n: int = 6) -> pd.DataFrame:
    """A frame that passes every expectation of suite ``name``."""
    spec = SUITES[name]
    frame = {"user_id": [f"u{i}" for i in range(n)], "calculated_at": [T] * n,
             "expires_at": [T + pd.Timedelta(hours=24)] * n}
    # required columns, and the nullable ones a range or set check reads (performance's scores)
    for column in dict.fromkeys([*spec.required, *spec.ranges, *spec.sets]):
        if column in spec.sets:
            frame[column] = [spec.sets[column][i % len(spec.sets[column])] for i in range(n)]
        elif column in spec.ranges:
            lo, hi = spec.ranges[column]
            frame[column] = [50.0 if (lo is None or lo <= 50) and (hi is None or hi >= 50)
                             else float(lo)] * n
        elif column == "last_active":
            frame[column] = [T - pd.Timedelta(days=1)] * n
        else:
            frame[column] = [[] for _ in range(n)]
    for _a, b, _ in spec.ordered:  # an optional column of an ordered pair (last_active)
        frame.setdefault(b, [T - pd.Timedelta(days=1)] * n)
    return pd.DataFrame(frame)


def _broken(name: str) -> pd.DataFrame:
    """Every kind of failure the suite can see, plus nulls the range / set checks skip."""
    spec = SUITES[name]
    f = _valid(name)
    f = pd.concat([f, f.head(1)], ignore_index=True)            # duplicate learner
    f.loc[1, "expires_at"] = f.loc[1, "calculated_at"]          # expires == calculated
    f.loc[2, "expires_at"] = pd.NaT                             # one side missing
    f.loc[3, spec.required[0]] = None                           # required null
    for column, (lo, hi) in spec.ranges.items():
        f[column] = f[column].astype(float)
        f.loc[4, column] = (hi + 1) if hi is not None else (lo - 1)
        f.loc[5, column] = np.nan                               # skipped by the range check
    for column in spec.sets:
        f.loc[4, column] = "not-a-value"
    for a, b, _ in spec.ordered:
        if a == "calculated_at":
            f.loc[5, b] = T + pd.Timedelta(days=3)
            f.loc[0, b] = pd.NaT                                # no activity: skipped
        else:
            f.loc[5, b] = f.loc[5, a] + 1
    return f


def _key(outcome):
    return sorted((x["expectation"], x["column"], x["severity"], x["unexpected_count"])
                  for x in outcome.failures + outcome.warnings)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_pandas_and_gx_report_the_same_failures(name):
    valid, broken = _valid(name), _broken(name)
    assert validate(valid, name).success and validate(valid, name, engine="gx").success
    fast, gx = validate(broken, name), validate(broken, name, engine="gx")
    assert not fast.success and _key(fast) == _key(gx)
    assert fast.evaluated == gx.evaluated
    empty_fast, empty_gx = validate(valid.iloc[:0], name), validate(valid.iloc[:0], name, "gx")
    assert empty_fast.success and _key(empty_fast) == _key(empty_gx)  # warnings only
    two_snapshots = valid.assign(calculated_at=[T, T + pd.Timedelta(hours=1)] * 3)
    assert _key(validate(two_snapshots, name)) == _key(validate(two_snapshots, name, "gx"))
    assert not validate(two_snapshots, name).success


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown validation engine"):
        validate(_valid("mastery"), "mastery", engine="soda")
