"""Issue 18: the independent check's compare tells numbers and missing values by dtype and in one
pass (``independent_check._traits``) instead of a Python call per value and test. Both tests must
see what the former per-value lambdas saw, for every dtype a compared column or JSON field takes;
and a compare of JSON columns reports the same as the per-value reference."""
import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.warehouse import independent_check as ic


def _reference(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The former tests, value by value as ``Series.map`` presents them."""
    number = s.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).to_numpy(dtype=bool)
    missing = s.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT) \
        .astype(bool).to_numpy(dtype=bool)
    return number, missing


SERIES = {
    "float with NaN": pd.Series([1.5, np.nan, 0.0, -2.0]),
    "int": pd.Series([1, 2, 3], dtype="int64"),
    "bool": pd.Series([True, False]),
    "str with NaN": pd.Series(["a", None, "12", ""], dtype="str"),
    "object mixed": pd.Series([1, 2.5, None, np.nan, True, "x", pd.NaT, [1], {"a": 1}, np.float64("nan"),
                               np.int64(3), pd.NA], dtype=object),
    "nullable Int64": pd.Series([1, None, 3], dtype="Int64"),
    "string[pyarrow] with NA": pd.Series(["a", None], dtype="string[pyarrow]"),
    "datetime with NaT": pd.Series(pd.to_datetime(["2026-01-01", None], utc=True)),
    "empty object": pd.Series([], dtype=object),
    "empty float": pd.Series([], dtype=float),
}


@pytest.mark.parametrize("name", list(SERIES))
def test_traits_are_the_per_value_tests(name):
    s = SERIES[name]
    number, missing = ic._traits(s)
    ref_number, ref_missing = _reference(s)
    assert number.tolist() == ref_number.tolist() and missing.tolist() == ref_missing.tolist()
    numbers = ic._numbers(s)
    ref = pd.to_numeric(s.where(~pd.Series(ref_missing, index=s.index)), errors="coerce").astype(float)
    pd.testing.assert_series_equal(numbers, ref)


def test_json_compare_finds_what_it_found():
    """Published vs independent JSON lists of records and maps: a changed number beyond the
    tolerance, a None against a number, a missing element, a changed string, a changed map value."""
    keys = [f"u{i}" for i in range(6)]
    skills = [[{"skillId": "s1", "level": 50.0, "name": "A", "at": None}] for _ in keys]
    ours = pd.DataFrame({"user_id": keys, "skills": [list(v) for v in skills],
                         "dist": [{"beginner": 1, "expert": 0} for _ in keys]})
    theirs = ours.copy()
    theirs["skills"] = [
        [{"skillId": "s1", "level": 50.004, "name": "A", "at": None}],   # within 0.005
        [{"skillId": "s1", "level": 50.1, "name": "A", "at": None}],     # beyond
        [{"skillId": "s1", "level": None, "name": "A", "at": None}],     # None vs number
        [],                                                              # element missing
        [{"skillId": "s1", "level": 50.0, "name": "B", "at": None}],     # string changed
        [{"skillId": "s1", "level": 50.0, "name": "A", "at": None}]]
    theirs["dist"] = [{"beginner": 1, "expert": 0}] * 5 + [{"beginner": 2, "expert": 0}]
    report = ic.compare({"skills": ("json", 0.005), "dist": ("json", 0)}, ours, theirs)
    assert report["columns"]["skills"]["mismatches"] == 3  # u1, u3, u4 (u2: one side None, a NaN number)
    assert report["columns"]["dist"]["mismatches"] == 1
    assert report["mismatching"] == ["u1", "u3", "u4", "u5"]


def test_json_fields_parse_only_their_numbers_as_numbers(monkeypatch):
    """Issue 18 (branch eng4): a JSON field's numbers are compared as numbers and its other values
    as text, each test on its own values only: no text value is parsed as a number (to_numeric
    over every skill name and timestamp was most of performance's compare), and the changed
    number and the changed text are still found."""
    seen = []
    numbers = ic._numbers

    def recording(s, missing=None):
        seen.extend(s.tolist())
        return numbers(s, missing)
    monkeypatch.setattr(ic, "_numbers", recording)
    keys = [f"u{i}" for i in range(4)]
    ours = pd.DataFrame({"user_id": keys, "recent": [
        [{"score": 80.0, "submittedAt": "2026-11-30T10:00:00Z", "skillId": "s1"}] for _ in keys]})
    theirs = ours.copy()
    theirs["recent"] = [
        [{"score": 80.0, "submittedAt": "2026-11-30T10:00:00Z", "skillId": "s1"}],
        [{"score": 81.0, "submittedAt": "2026-11-30T10:00:00Z", "skillId": "s1"}],  # number changed
        [{"score": 80.0, "submittedAt": "2026-11-30T10:00:01Z", "skillId": "s1"}],  # text changed
        [{"score": 80.0, "submittedAt": "2026-11-30T10:00:00Z", "skillId": "s2"}]]  # text changed
    report = ic.compare({"recent": ("json", 1e-6)}, ours, theirs)
    assert report["mismatching"] == ["u1", "u2", "u3"]
    assert seen and all(isinstance(v, float) for v in seen)
