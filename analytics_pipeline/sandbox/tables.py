"""Column-store tables served by the sandbox: one generic path for every resource.

A ``Table`` keeps its rows as numpy columns, sorted once by (updated_at, id). A row may
exist in several *versions* (same id, newer ``updated_at``); a version is visible at
instant ``now`` when ``updated_at <= now < valid_to``, where ``valid_to`` is the next
version's ``updated_at`` or the row's deletion instant. Pages are found by binary search
on a composite int64 sort key ``updated_at * KEY_SHIFT + id_rank`` and only the rows of
the page are turned into JSON-ready dicts (via the table's ``Field`` list).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

NULL_TS = np.iinfo(np.int64).min  # same bit pattern as numpy NaT
NEVER = np.int64(2**62 // (1 << 27))  # "valid forever" instant, keeps the key in int64
KEY_SHIFT = 1 << 27  # id ranks must stay below this (134M rows)


class IdFormat:
    """Formats integer id numbers as fixed-width opaque strings (order-preserving)."""

    def __init__(self, prefix: str, width: int, uuid_like: bool = False):
        self.prefix, self.width, self.uuid_like = prefix, width, uuid_like

    def __call__(self, nums: np.ndarray) -> list[str]:
        if self.uuid_like:
            mix = (nums.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**48)
            return [f"{n:08x}-{m >> 32:04x}-4{(m >> 20) & 0xfff:03x}-8{(m >> 8) & 0xfff:03x}-{m:012x}"
                    for n, m in zip(nums.tolist(), mix.tolist())]
        p, w = self.prefix, self.width
        return [f"{p}{n:0{w}d}" for n in nums.tolist()]


def format_ts(values: np.ndarray) -> list:
    """Epoch seconds -> RFC 3339 UTC strings ending in ``Z``; NULL_TS -> None."""
    text = np.datetime_as_string(values.astype("datetime64[s]"), unit="s", timezone="UTC")
    out = text.tolist()
    if (values == NULL_TS).any():
        out = [None if v == NULL_TS else s for v, s in zip(values.tolist(), out)]
    return out


@dataclasses.dataclass(frozen=True)
class Field:
    """One JSON field: ``build(page)`` returns its values for the page's columns.

    ``kind`` (id/ts/num/pct/cat/obj) and ``required`` drive the invalid-row fault.
    """

    name: str
    build: Callable[[dict], list]
    kind: str = "obj"
    required: bool = False


def id_field(name, col, fmt: IdFormat, required=True, nullable=False) -> Field:
    def build(page):
        vals = page[col]
        out = fmt(np.where(vals < 0, 0, vals))
        return [None if v < 0 else s for v, s in zip(vals.tolist(), out)] if nullable else out
    return Field(name, build, "id", required)


def ts_field(name, col, required=True) -> Field:
    return Field(name, lambda page: format_ts(page[col]), "ts", required)


def num_field(name, col, decimals=1, required=True, pct=False) -> Field:
    def build(page):
        vals = page[col]
        out = np.round(vals.astype(np.float64), decimals).tolist()
        return [None if v != v else v for v in out] if np.isnan(vals).any() else out
    return Field(name, build, "pct" if pct else "num", required)


def int_field(name, col, required=True) -> Field:
    return Field(name, lambda page: [None if v < 0 else v for v in page[col].tolist()],
                 "num", required)


def cat_field(name, col, labels, required=True) -> Field:
    """Small-integer codes -> labels (a label may be None or a dict/list)."""
    return Field(name, lambda page: [labels[c] for c in page[col].tolist()], "cat", required)


def obj_field(name, col, required=True) -> Field:
    return Field(name, lambda page: page[col].tolist(), "obj", required)


def sort_versions(id_rank: np.ndarray, updated_at: np.ndarray, deleted_at: np.ndarray):
    """Order rows by (updated_at, id) and compute each version's ``valid_to``.

    Returns (order, valid_to) where ``order`` drops versions not earlier than the row's
    deletion and duplicate (id, updated_at) versions (the last one wins).
    """
    keep = updated_at < deleted_at
    by_id = np.flatnonzero(keep)[np.lexsort((updated_at[keep], id_rank[keep]))]
    ids, ups = id_rank[by_id], updated_at[by_id]
    same_next = np.zeros(len(by_id), bool)
    same_next[:-1] = ids[:-1] == ids[1:]
    dup = np.zeros(len(by_id), bool)
    dup[:-1] = same_next[:-1] & (ups[:-1] == ups[1:])
    by_id, same_next = by_id[~dup], same_next[~dup]
    valid_to = deleted_at[by_id].copy()
    nxt = np.flatnonzero(same_next)
    valid_to[nxt] = updated_at[by_id[nxt + 1]]
    key = updated_at[by_id] * KEY_SHIFT + id_rank[by_id]
    final = np.argsort(key, kind="stable")
    return by_id[final], valid_to[final]


class Table:
    """A resource's rows, sorted by (updated_at, id), with visibility and paging."""

    def __init__(self, resource: str, fields: list[Field], columns: dict[str, np.ndarray],
                 id_rank: np.ndarray, id_format: Callable[[np.ndarray], list],
                 deleted_at: np.ndarray | None = None, consume: bool = False):
        updated = columns["updated_at"]
        deleted = np.full(len(updated), NEVER) if deleted_at is None else deleted_at
        order, self.valid_to = sort_versions(id_rank, updated, deleted)
        self.resource, self.fields = resource, fields
        # consume=True moves the columns out of the caller's dict one at a time (it is emptied), so
        # at most one extra column copy is alive (the events table at L is ~1 GB)
        self.columns = ({k: columns.pop(k)[order] for k in list(columns)} if consume
                        else {k: v[order] for k, v in columns.items()})
        self.id_rank = id_rank[order]
        self.id_format = id_format
        self.sort_key = self.columns["updated_at"] * KEY_SHIFT + self.id_rank
        self.always_valid = bool((self.valid_to == NEVER).all())
        # deletions this table publishes: last version of each deleted id
        gone = self.valid_to == deleted[order]
        gone &= deleted[order] != NEVER
        self.deleted_ids, self.deleted_at = self.id_rank[gone], self.valid_to[gone]

    def __len__(self) -> int:
        return len(self.sort_key)

    def visible_count(self, now: int) -> int:
        end = int(np.searchsorted(self.sort_key, (now + 1) * KEY_SHIFT, "left"))
        return int(np.count_nonzero(self.valid_to[:end] > now))

    def select(self, now: int, after_key: int, limit: int) -> tuple[np.ndarray, bool]:
        """Positions of the first ``limit`` rows visible at ``now`` with key > after_key."""
        end = int(np.searchsorted(self.sort_key, (now + 1) * KEY_SHIFT, "left"))
        pos = int(np.searchsorted(self.sort_key, after_key, "right"))
        if self.always_valid:
            idx = np.arange(pos, min(end, pos + limit + 1))
        else:
            parts, need, chunk = [], limit + 1, max(2 * limit, 4096)
            while pos < end and need > 0:
                stop = min(end, pos + chunk)
                hits = pos + np.flatnonzero(self.valid_to[pos:stop] > now)
                parts.append(hits[:need])
                need -= len(parts[-1])
                pos, chunk = stop, chunk * 2
            idx = np.concatenate(parts) if parts else np.arange(0)
        return idx[:limit], len(idx) > limit

    def rows(self, idx: np.ndarray) -> list[dict]:
        """JSON-ready dicts for the rows at positions ``idx``."""
        if len(idx) == 0:
            return []
        page = {k: v[idx] for k, v in self.columns.items()}
        names = [f.name for f in self.fields]
        values = [f.build(page) for f in self.fields]
        return [dict(zip(names, vals)) for vals in zip(*values)]
