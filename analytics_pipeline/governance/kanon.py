"""k-anonymity of published aggregates: no group smaller than k learners.

k comes from the ``K_ANONYMITY`` setting (default 10) and is never below :data:`MIN_K`;
SQL's ``k_anonymity()`` reads the same value from ``pipeline_settings`` (written by the
``access_control`` asset). A group whose count is missing or not a number counts as too small.
"""
from __future__ import annotations

import pandas as pd

MIN_K = 5


def effective_k(k: int) -> int:
    """k as enforced: at least :data:`MIN_K`."""
    return max(MIN_K, int(k))


def groups_below_k(frame: pd.DataFrame, count_column: str, k: int) -> pd.DataFrame:
    """The rows of ``frame`` (published groups) whose ``count_column`` is under k or missing."""
    if count_column not in frame.columns:
        raise KeyError(f"{count_column!r} is not a column of the published groups ({list(frame.columns)})")
    counts = pd.to_numeric(frame[count_column], errors="coerce")
    return frame[counts.isna() | (counts < effective_k(k))]


def k_anonymity_verdict(published: pd.DataFrame, count_column: str, k: int,
                        sql_k: int | None = None) -> tuple[bool, dict]:
    """(passed, metadata): passed when no published group is under k (testable on any query result)."""
    k = effective_k(k)
    small = groups_below_k(published, count_column, k)
    counts = pd.to_numeric(published[count_column], errors="coerce")
    return small.empty, {
        "k": k,
        "k_in_sql": sql_k if sql_k is not None else "-",
        "groups_published": len(published),
        "groups_below_k": len(small),
        "smallest_group": int(counts.min()) if counts.notna().any() else "-",
    }
