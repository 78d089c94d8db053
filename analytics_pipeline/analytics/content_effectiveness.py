"""Content effectiveness (table ``content_effectiveness_analytics``).

Who gets a row: every learner with at least one active enrollment at ``T`` (lists may be
empty). Rows live 7 days.

Evidence (across all learners): assessment results with a skill, submitted in the
``lookback_days`` = 90 days ``(T-90d, T]``, and learning events at or before T. A content
item counts for the skills in its ``skill_ids``. For a result ``r`` (learner u, skill s,
time t) and an item i tagged with s:

- r is **treated** for (i, s) when u *completed* i (``event_type = 'completed'``) at a time
  c with ``t - 14d <= c <= t`` (the result was submitted within 14 days after completion);
- r is **control** for (i, s) when u had *no* event of any type on i in ``[t - 14d, t]``
  (did not use it in that window); results where u used i without completing it are neither.

``effect(i, s)`` = mean score of treated results - mean score of control results, only when
both sides have at least ``min_learners`` = 10 distinct learners (else no effect). An
item's effect is the mean of its qualifying skill effects. The same computation with the
content *type* in place of the item (any item of that type tagged with s) gives type effects.

Per learner, among the items they used (any event) in W = ``(T-28d, T]`` that have an effect:

- ``most_effective`` = up to 3 items by effect desc (ties: content id);
- ``least_effective`` = up to 3 of the *other* used items by effect asc (an item is never in
  both lists);
- when none of their used items has an effect, the same with the content types they used in
  W that have a type effect.
  Entries: ``{"kind": "item", "contentId", "title", "contentType", "effect"}`` or
  ``{"kind": "type", "contentType", "effect"}`` (effect in score points, rounded to 2
  decimals only there: the ranking and the item mean use the exact effects);
- ``recommendations``: for the learner's top ``top_gaps`` = 3 skill gaps (see skill_gap.py,
  priority order), the item with the highest positive effect on that skill that the learner
  has never used (no event at or before T); at most one sentence per item, up to 3, e.g.
  ``"Try 'Intro to SQL' (video) for SQL: learners who completed it scored 12.5 points higher
  on SQL assessments within 14 days."``
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import common
from .skill_gap import skill_gap_table

TABLE = "content_effectiveness_analytics"
COLUMNS = ["most_effective", "least_effective", "recommendations"]
ITEM_KEYS = {"kind": "kind", "content_id": "contentId", "title": "title",
             "content_type": "contentType", "effect": "effect"}
TYPE_KEYS = {"kind": "kind", "content_type": "contentType", "effect": "effect"}


@dataclass(frozen=True)
class ContentEffectivenessConfig:
    window_days: int = 28
    effect_window_days: int = 14
    lookback_days: int = 90
    min_learners: int = 10
    max_items: int = 3
    top_gaps: int = 3
    max_recommendations: int = 3
    candidate_items_per_skill: int = 50
    ttl: pd.Timedelta = pd.Timedelta(days=7)


def _item_skills(content_items: pd.DataFrame | None) -> pd.DataFrame:
    ci = common.frame_or_empty(content_items, ["id", "title", "content_type", "skill_ids"])
    ci = ci.rename(columns={"id": "content_id"}).astype({"content_id": str})
    ci = ci.drop_duplicates("content_id", keep="last")
    x = ci[["content_id", "content_type", "skill_ids"]].explode("skill_ids")
    x = x.loc[x["skill_ids"].notna()].rename(columns={"skill_ids": "skill_id"})
    return ci[["content_id", "title", "content_type"]], \
        x.astype({"skill_id": str}).drop_duplicates(["content_id", "skill_id"])


def _naive_utc(s: pd.Series) -> np.ndarray:
    """UTC timestamps as a naive ``datetime64`` array (``to_numpy`` of a zoned column builds
    one Python object per value)."""
    return common.to_utc_series(s).dt.tz_localize(None).to_numpy()


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: numpy 2's hashed ``np.unique`` is slower here)."""
    v = np.sort(values)
    return v[np.concatenate([[True], v[1:] != v[:-1]])] if len(v) else v


def _in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted ``sorted_set``, by binary search (numpy 2's
    hashed ``isin`` is several times slower here)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated ranges ``[lo[k], hi[k])``: (owner k, position) of each element."""
    n = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(n)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    return owner, np.arange(len(owner)) - first + np.repeat(lo, n)


def _positions(labels: pd.Index, values: pd.Series) -> np.ndarray:
    """``labels.get_indexer(values)`` (-1: not a label, or null) of string labels, by Arrow's
    hash lookup (several times faster on the Arrow-backed strings the reads give)."""
    arr = pa.array(values.array).cast(pa.large_string())
    found = pc.index_in(arr, value_set=pa.array(labels.to_numpy(dtype=object),
                                                type=pa.large_string()))
    return found.fill_null(-1).to_numpy().astype("int64")


def _evidence_pairs(results: pd.DataFrame, events: pd.DataFrame, item_skills: pd.DataFrame,
                    effect_window_days: float) -> tuple[pd.DataFrame, dict]:
    """The evidence pairs once for both keys, on integer codes (string keys are several times
    slower): one row per (event, item skill tag, result of the same learner on that skill)
    with the event in ``[t - window, t]``; columns r (result row), i (item), t (item type,
    -1 when null), completed. Also returns the codes (labels and the results' codes).

    Array code, not joins: the results sorted by learner x skill (``r_key``) and, per key, the
    range of its rows (a bincount: the key space users x skills is already allocated by
    :func:`_parts`); each event is repeated per skill tag of its item, then per result of its
    learner on that skill (the range of the key), and kept when the event is in the window."""
    win = np.timedelta64(pd.Timedelta(days=effect_window_days))
    users = pd.Index(pd.unique(results["user_id"]))
    skills = pd.Index(pd.unique(pd.concat([results["skill_id"], item_skills["skill_id"]],
                                          ignore_index=True)))
    items = pd.Index(pd.unique(item_skills["content_id"]))
    types = pd.Index(pd.unique(item_skills["content_type"].dropna()))
    n_s = max(len(skills), 1)
    r_u = users.get_indexer(results["user_id"])
    r_s = skills.get_indexer(results["skill_id"])
    r_key = r_u.astype("int64") * n_s + r_s
    e_u = _positions(users, events["user_id"])
    e_i = _positions(items, events["content_id"])
    keep = (e_u >= 0) & (e_i >= 0)
    e_u, e_i = e_u[keep], e_i[keep]
    e_at = _naive_utc(events["occurred_at"])[keep]
    e_done = events["completed"].to_numpy(dtype=bool)[keep]
    tags = pd.DataFrame({"i": items.get_indexer(item_skills["content_id"]),
                         "t": types.get_indexer(item_skills["content_type"]),
                         "s": skills.get_indexer(item_skills["skill_id"])}) \
        .drop_duplicates().sort_values(["i", "s", "t"])
    tag_i, tag_s, tag_t = (tags[c].to_numpy() for c in ("i", "s", "t"))
    every_item = np.arange(len(items))
    # (event, tag of its item): the tags of an item are a range of the sorted tags
    q, tag = _expand_ranges(np.searchsorted(tag_i, every_item)[e_i],
                            np.searchsorted(tag_i, every_item, side="right")[e_i])
    q_key = e_u[q] * n_s + tag_s[tag]
    # (event tag, result of the same learner and skill): the key's range of the sorted results
    order = np.argsort(r_key, kind="stable")
    per_key = np.bincount(r_key, minlength=len(users) * n_s)
    key_start = np.cumsum(per_key) - per_key
    lo = key_start[q_key]
    pq, pos = _expand_ranges(lo, lo + per_key[q_key])
    r = order[pos]
    occurred, submitted = e_at[q[pq]], _naive_utc(results["submitted_at"])[r]
    ok = (occurred <= submitted) & (occurred >= submitted - win)
    pq, r = pq[ok], r[ok]
    pairs = pd.DataFrame({"r": r, "i": e_i[q[pq]], "t": tag_t[tag[pq]],
                          "completed": e_done[q[pq]]})
    codes = {"content_id": items, "content_type": types, "skills": skills, "n_s": n_s,
             "r_u": r_u, "r_s": r_s, "r_key": r_key, "users": len(users)}
    return pairs, codes


def _parts(pairs: pd.DataFrame, codes: dict, results: pd.DataFrame,
           key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`effect_parts` of ``key`` from :func:`_evidence_pairs` (groups on one int64 code,
    hashed: (result, key), then (key, skill), then (key, skill, learner))."""
    col = "i" if key == "content_id" else "t"
    n_s, r_u, r_s = codes["n_s"], codes["r_u"], codes["r_s"]
    n_k = max(len(codes[key]), 1)
    k = pairs[col].to_numpy()
    keep = k >= 0
    # one "used" row per (result, key): completed if any of its pairs is a completion.
    first, rk = pd.factorize(pairs["r"].to_numpy()[keep].astype("int64") * n_k + k[keep])
    completed = np.bincount(first, weights=pairs["completed"].to_numpy()[keep],
                            minlength=len(rk)) > 0
    r, k = rk // n_k, rk % n_k
    u, s = r_u[r].astype("int64"), r_s[r]
    score = results["score"].to_numpy(dtype=float)[r]
    # the used (key, skill) groups: the key x skill space is small, so present codes by a
    # bincount, not a hash factorize (group order is free: the parts are sorted at the end)
    present = np.bincount(k * n_s + s, minlength=n_k * n_s) > 0
    ks, g = np.flatnonzero(present), (np.cumsum(present) - 1)[k * n_s + s]
    n_g = len(ks)
    by_g = pd.Series(score).groupby(g, sort=True)
    u_sum, u_n = by_g.sum().to_numpy(), np.bincount(g, minlength=n_g).astype(float)
    t_sum = pd.Series(score[completed]).groupby(g[completed]).sum() \
        .reindex(range(n_g), fill_value=0.0).to_numpy()
    t_n = np.bincount(g[completed], minlength=n_g).astype(float)
    n_u = max(codes["users"], 1)
    t_pairs = _distinct(g[completed] * n_u + u[completed])
    t_learners = np.bincount(t_pairs // n_u, minlength=n_g).astype(float)
    # learners whose every result on s was "used" for the key have no control result.
    r_n = np.bincount(codes["r_key"], minlength=codes["users"] * n_s) if len(codes["r_key"]) \
        else np.zeros(0, dtype=int)
    per_learner, gu = pd.factorize(g * n_u + u)
    used_n = np.bincount(per_learner, minlength=len(gu))
    g_of, u_of = gu // n_u, gu % n_u
    all_used = used_n >= r_n[u_of * n_s + ks[g_of] % n_s]
    no_control = np.bincount(g_of[all_used], minlength=n_g).astype(float)
    parts = pd.DataFrame({"t_sum": t_sum, "t_n": t_n, "t_learners": t_learners, "u_sum": u_sum,
                          "u_n": u_n, "no_control": no_control},
                         index=pd.MultiIndex.from_arrays(
                             [codes[key][ks // n_s], codes["skills"][ks % n_s]],
                             names=[key, "skill_id"])).sort_index()
    skill_tot = results.groupby("skill_id").agg(s_sum=("score", "sum"), s_n=("score", "size"),
                                                s_learners=("user_id", "nunique")).astype(float)
    return parts, skill_tot


def effect_parts(results: pd.DataFrame, events: pd.DataFrame, item_skills: pd.DataFrame,
                 key: str, effect_window_days: float = 14) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Additive partial sums of the effects per (key, skill_id) over a set of learners.

    Every evidence pair joins a learner's events with the *same* learner's results, so the
    sums (and the distinct-learner counts) of disjoint learner sets add up: the parts of
    learner chunks summed with :func:`combine_effect_parts` equal the parts over all of them
    (up to the order of float additions). Returns ``(pairs, skills)``:
    pairs indexed by (key, skill_id) with t_sum, t_n, t_learners (treated), u_sum, u_n
    (results that used the key: not control), no_control (learners without a control
    result); skills indexed by skill_id with s_sum, s_n, s_learners (all results).
    """
    pairs, codes = _evidence_pairs(results, events, item_skills, effect_window_days)
    return _parts(pairs, codes, results, key)


def combine_effect_parts(parts: list[tuple[pd.DataFrame, pd.DataFrame]]
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sum :func:`effect_parts` of disjoint learner sets (small frames: items x skills)."""
    pairs = pd.concat([p for p, _ in parts])
    skills = pd.concat([s for _, s in parts])
    pairs = pairs.groupby(level=list(range(pairs.index.nlevels)), observed=True).sum()
    return pairs, skills.groupby(level=0).sum()


def effects_from_parts(pairs: pd.DataFrame, skill_tot: pd.DataFrame, key: str,
                       cfg: ContentEffectivenessConfig) -> pd.DataFrame:
    """Qualifying effects from (combined) parts; see :func:`effects`."""
    if pairs.empty:
        return pd.DataFrame({key: pd.Series(dtype=object), "skill_id": pd.Series(dtype=object),
                             "effect": pd.Series(dtype=float),
                             "n_treated": pd.Series(dtype=float),
                             "n_control": pd.Series(dtype=float)})
    eff = pairs.loc[pairs["t_n"] > 0].reset_index()
    eff = eff.merge(skill_tot, left_on="skill_id", right_index=True, how="left")
    c_n = eff["s_n"] - eff["u_n"]
    eff["n_treated"] = eff["t_learners"]
    eff["n_control"] = eff["s_learners"] - eff["no_control"]
    # not rounded for display here (round once, at the edge): 9 decimals only remove the float
    # noise of sums combined in another order (chunks), so ties and ranks are reproducible
    eff["effect"] = (eff["t_sum"] / eff["t_n"]
                     - (eff["s_sum"] - eff["u_sum"]) / c_n.where(c_n > 0)).round(9)
    ok = (eff["n_treated"] >= cfg.min_learners) & (eff["n_control"] >= cfg.min_learners) \
        & eff["effect"].notna()
    return eff.loc[ok, [key, "skill_id", "effect", "n_treated", "n_control"]] \
        .reset_index(drop=True)


def effects(results: pd.DataFrame, events: pd.DataFrame, item_skills: pd.DataFrame,
            key: str, cfg: ContentEffectivenessConfig) -> pd.DataFrame:
    """Qualifying effects per (key, skill_id); ``key`` is ``content_id`` or ``content_type``.

    results: rid, user_id, skill_id, score, submitted_at; events: user_id, content_id,
    occurred_at, completed. Returns key, skill_id, effect, n_treated, n_control.
    """
    parts = effect_parts(results, events, item_skills, key, cfg.effect_window_days)
    return effects_from_parts(*parts, key, cfg)


def _events_until(learning_events: pd.DataFrame | None, T: pd.Timestamp,
                  columns: tuple[str, ...] = ("user_id", "content_id")) -> pd.DataFrame:
    """Events on content at or before ``T``: ``columns`` and occurred_at."""
    ev = common.until(learning_events, "occurred_at", T, list(columns))
    return ev.loc[ev["content_id"].notna()]


def evidence(assessment_results: pd.DataFrame | None, learning_events: pd.DataFrame | None,
             T: pd.Timestamp, cfg: ContentEffectivenessConfig
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results with a skill in the lookback, evidence events) as used by :func:`effects` (see
    the module docstring)."""
    res = common.until(assessment_results, "submitted_at", T,
                       ["user_id", "skill_id", "score"], days=cfg.lookback_days)
    res = res.loc[res["skill_id"].notna() & res["score"].notna()]
    res = res.assign(user_id=res["user_id"].astype(str), skill_id=res["skill_id"].astype(str),
                     score=pd.to_numeric(res["score"]).astype(float))
    res["rid"] = np.arange(len(res))
    ev = _events_until(learning_events, T, ("user_id", "content_id", "event_type"))
    ev = ev.assign(user_id=ev["user_id"].astype(str), content_id=ev["content_id"].astype(str),
                   completed=ev["event_type"].astype(str).eq("completed").to_numpy(dtype=bool))
    ev = ev.drop(columns="event_type")
    horizon = T - pd.Timedelta(days=cfg.lookback_days + cfg.effect_window_days)
    with_result = _positions(pd.Index(pd.unique(res["user_id"])), ev["user_id"]) >= 0
    evidence_ev = ev.loc[ev["occurred_at"].gt(horizon).to_numpy() & with_result]
    return res, evidence_ev


def effect_parts_of(content_items: pd.DataFrame | None,
                    learning_events: pd.DataFrame | None,
                    assessment_results: pd.DataFrame | None, T: pd.Timestamp,
                    config: ContentEffectivenessConfig = ContentEffectivenessConfig(),
                    keys: tuple[str, ...] = ("content_id", "content_type"),
                    ) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Item and type :func:`effect_parts` of the learners in the given frames (one chunk);
    ``keys`` = ``("content_id",)`` for the item parts only."""
    T = common.utc(T)
    _items, item_skills = _item_skills(content_items)
    res, evidence_ev = evidence(assessment_results, learning_events, T, config)
    pairs, codes = _evidence_pairs(res, evidence_ev, item_skills, config.effect_window_days)
    return {key: _parts(pairs, codes, res, key) for key in keys}


ITEM_CELL_INSTANTS = (("first_at", "progressed"), ("last_at", "progressed"),
                      ("first_completed_at", "completed"), ("last_completed_at", "completed"))


def events_from_item_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The events that answer this metric's questions from per (learner, item, day) cells:
    user_id, content_id, first_at, last_at, first_completed_at, last_completed_at (NULL: none,
    or before the retention bound). Returns user_id, content_id, event_type, occurred_at.

    Every question asked of a learner and an item is whether an event (a completion) lies in a
    closed window at least a day long ([t - 14 d, t] around a result, the 28 days of use, "ever").
    Its two ends fall in different day bins; the bins between hold an event iff the cell exists,
    the start's bin iff its last instant >= the start, the end's bin iff its first instant <= the
    end. So the cell's first and last event ("progressed") and first and last completion
    ("completed") give the raw events' answers; an instant carried by another row of the cell
    (the first event when it is the first completion, ...) is not repeated."""
    at = {c: common.to_utc_series(cells[c]) for c, _ in ITEM_CELL_INSTANTS}
    first, last, first_done, last_done = at.values()
    keep = {"first_at": first.notna() & first.ne(first_done),
            "last_at": last.notna() & last.ne(first) & last.ne(last_done),
            "first_completed_at": first_done.notna(),
            "last_completed_at": last_done.notna() & last_done.ne(first_done)}
    parts = [pd.DataFrame({"user_id": cells["user_id"].loc[keep[c]],
                           "content_id": cells["content_id"].loc[keep[c]],
                           "event_type": kind, "occurred_at": at[c].loc[keep[c]]})
             for c, kind in ITEM_CELL_INSTANTS]
    return pd.concat(parts, ignore_index=True)


def latest_use(learning_events: pd.DataFrame | None, T: pd.Timestamp) -> pd.DataFrame:
    """Per (learner, item) the latest use at or before ``T``: user_id, content_id, occurred_at,
    event_type (``'progressed'``). All :func:`compute_content_effectiveness` reads of a learner's
    events (used in W = latest use in W; ever used = a row), so its rows from these equal its
    rows from the events themselves, in far less memory."""
    ev = _events_until(learning_events, T)
    out = ev.groupby(["user_id", "content_id"], sort=False)["occurred_at"].max().reset_index()
    return out.assign(event_type="progressed")


def effect_tables(parts: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                  config: ContentEffectivenessConfig = ContentEffectivenessConfig()
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(item effects, type effects) from the (combined) parts of :func:`effect_parts_of`."""
    return (effects_from_parts(*parts["content_id"], "content_id", config),
            effects_from_parts(*parts["content_type"], "content_type", config))


def item_effects(content_items: pd.DataFrame | None, learning_events: pd.DataFrame | None,
                 assessment_results: pd.DataFrame | None, T: pd.Timestamp,
                 cfg: ContentEffectivenessConfig = ContentEffectivenessConfig()) -> pd.DataFrame:
    """Qualifying item effects as of ``T``: content_id, skill_id, effect, n_treated, n_control."""
    return effect_tables(effect_parts_of(content_items, learning_events, assessment_results, T, cfg), cfg)[0]


def effect_text(effect: pd.Series) -> pd.Series:
    """An effect as the sentences show it: the published 2-decimal value, without trailing
    zeros (3.15 -> "3.15", 12.5 -> "12.5", 4 -> "4"): never a second rounding."""
    cents = pd.Series(common.clip_numeric(effect), index=effect.index)
    return cents.map("{:.2f}".format).astype(str).str.rstrip("0").str.rstrip(".").astype(object)


def _run_ranks(u: np.ndarray) -> np.ndarray:
    """Each row's position within its run of equal ``u`` (rows grouped by ``u``): a cumcount."""
    idx = np.arange(len(u))
    if not len(u):
        return idx
    start = np.concatenate([[True], u[1:] != u[:-1]])
    return idx - np.maximum.accumulate(np.where(start, idx, 0))


def _ranked(u: np.ndarray, k: np.ndarray, effect: np.ndarray, n: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per learner code ``u``: the rows of the top ``n`` by effect desc and, among the rest, of
    the bottom ``n`` by effect asc (ties: key code ``k`` asc, the key's sort order), each in
    list order. ``(u, k)`` pairs are distinct."""
    order = np.lexsort((k, -effect, u))
    rank = _run_ranks(u[order])
    most, rest = order[rank < n], order[rank >= n]
    rest = rest[np.lexsort((k[rest], effect[rest], u[rest]))]
    return most, rest[_run_ranks(u[rest]) < n]


def _first_of(codes: np.ndarray) -> np.ndarray:
    """Sorted positions of the first occurrence of each value of ``codes`` (drop_duplicates)."""
    return np.sort(np.unique(codes, return_index=True)[1]) if len(codes) else \
        np.zeros(0, dtype=np.int64)


def compute_content_effectiveness(
        enrollments: pd.DataFrame, content_items: pd.DataFrame | None,
        learning_events: pd.DataFrame | None, assessment_results: pd.DataFrame | None,
        course_skills: pd.DataFrame | None, user_skills: pd.DataFrame | None,
        skills: pd.DataFrame | None, T: pd.Timestamp,
        config: ContentEffectivenessConfig = ContentEffectivenessConfig(),
        precomputed_effects: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per learner with an active enrollment at ``T`` (see module docstring).

    ``precomputed_effects`` = ``(item effects, type effects)`` (see :func:`effect_tables`)
    lets a caller compute the cross-learner evidence once and the learner rows per chunk;
    ``assessment_results`` is then not used.

    On integer codes (issue 18: merges, sorts and de-duplications on string keys were most of
    the second pass): learners (sorted ids), items sorted by id and types sorted by name, so
    sorting a code sorts its id; each learner's (item) pairs as one int64.
    """
    T = common.utc(T)
    cfg = config
    learners = common.active_learners(enrollments, T)
    items, _ = _item_skills(content_items)
    if precomputed_effects is None:
        item_eff, type_eff = effect_tables(effect_parts_of(
            content_items, learning_events, assessment_results, T, cfg), cfg)
    else:
        # chunked run: effects computed once over all learners (effect_parts_of per chunk,
        # combine_effect_parts, effect_tables); the frames here hold one chunk's learners.
        item_eff, type_eff = precomputed_effects
    per_item = item_eff.groupby("content_id")["effect"].mean().round(9)
    per_type = type_eff.groupby("content_type")["effect"].mean().round(9)

    items = items.set_index("content_id").sort_index()
    item_ids = pd.Index(items.index.to_numpy(dtype=object))
    titles = items["title"].astype(object).to_numpy()
    item_type = items["content_type"].astype(object).to_numpy()
    type_ids = pd.Index(np.sort(pd.unique(item_type[pd.notna(item_type)])).astype(object))
    item_t = type_ids.get_indexer(item_type)  # -1: no type
    n_i = max(len(item_ids), 1)

    # each learner's used items: (learner, item) codes of the events of learners, known items
    ev = _events_until(learning_events, T)
    e_u = _positions(learners, ev["user_id"].astype(str))
    e_c = _positions(item_ids, ev["content_id"].astype(str))
    mine = (e_u >= 0) & (e_c >= 0)
    in_w = mine & ev["occurred_at"].gt(T - pd.Timedelta(days=cfg.window_days)).to_numpy()
    used = _distinct(e_u[in_w] * n_i + e_c[in_w])  # items used in W, by learner then item
    ever = _distinct(e_u[mine] * n_i + e_c[mine])  # items ever used
    used_u, used_c = used // n_i, used % n_i

    # Items / types the learner used in W that have an effect: the ranked lists.
    eff_i = per_item.reindex(item_ids).to_numpy(dtype=float)[used_c]
    has = ~np.isnan(eff_i)
    cu, cc, ce = used_u[has], used_c[has], eff_i[has]
    with_items = np.zeros(len(learners), dtype=bool)
    with_items[cu] = True
    t_of = item_t[used_c]
    fallback = ~with_items[used_u] & (t_of >= 0)
    n_t = max(len(type_ids), 1)
    used_t = _distinct(used_u[fallback] * n_t + t_of[fallback])
    tu, tt = used_t // n_t, used_t % n_t
    eff_t = per_type.reindex(type_ids).to_numpy(dtype=float)[tt]
    has = ~np.isnan(eff_t)
    tu, tt, te = tu[has], tt[has], eff_t[has]

    def item_entries(rows):
        f = pd.DataFrame({"kind": "item", "content_id": item_ids.to_numpy()[cc[rows]],
                          "title": titles[cc[rows]], "content_type": item_type[cc[rows]],
                          "effect": common.clip_numeric(ce[rows])})
        return common.records(f, ITEM_KEYS), cu[rows]

    def type_entries(rows):
        f = pd.DataFrame({"kind": "type", "content_type": type_ids.to_numpy()[tt[rows]],
                          "effect": common.clip_numeric(te[rows])})
        return common.records(f, TYPE_KEYS), tu[rows]

    out = pd.DataFrame(index=learners)
    ranked_i, ranked_t = _ranked(cu, cc, ce, cfg.max_items), _ranked(tu, tt, te, cfg.max_items)
    for column, side in (("most_effective", 0), ("least_effective", 1)):
        (vi, ki), (vt, kt) = item_entries(ranked_i[side]), type_entries(ranked_t[side])
        out[column] = common.per_learner(
            pd.concat([vi, vt], ignore_index=True),
            pd.Series(learners.take(np.concatenate([ki, kt]))), learners)

    # Recommendations: best unused positive item for each of the top skill gaps.
    gaps = skill_gap_table(enrollments, course_skills, user_skills, skills, T)
    gaps = gaps.loc[gaps.groupby("user_id").cumcount() < cfg.top_gaps,
                    ["user_id", "skill_id", "skill_name"]]
    g_rank = gaps.groupby("user_id").cumcount().to_numpy()
    pos = item_eff.loc[item_eff["effect"] > 0].sort_values(
        ["skill_id", "effect", "content_id"], ascending=[True, False, True])
    # memory bound: only the best `candidate_items_per_skill` items per skill are considered.
    pos = pos.loc[pos.groupby("skill_id").cumcount() < cfg.candidate_items_per_skill]
    # gaps x the positive items of their skill (pos is sorted by skill: a range per skill)
    pos_skills = pd.Index(pd.unique(pos["skill_id"].astype(object)))
    p_s = pos_skills.get_indexer(pos["skill_id"].astype(object))
    g_s = pos_skills.get_indexer(gaps["skill_id"].astype(object))
    g_u = learners.get_indexer(gaps["user_id"].astype(object)) if len(gaps) else \
        np.zeros(0, dtype=np.int64)
    keep = np.flatnonzero((g_s >= 0) & (g_u >= 0))
    every_skill = np.arange(len(pos_skills))
    lo = np.searchsorted(p_s, every_skill)[g_s[keep]]
    hi = np.searchsorted(p_s, every_skill, side="right")[g_s[keep]]
    owner, row = _expand_ranges(lo, hi)
    g = keep[owner]
    r_u, r_rank = g_u[g], g_rank[g]
    r_c = item_ids.get_indexer(pos["content_id"].astype(object))[row]
    r_e = pos["effect"].to_numpy(dtype=float)[row]
    unused = ~_in_sorted(r_u * n_i + r_c, ever)  # never used (no event at or before T)
    g, r_u, r_rank, r_c, r_e = g[unused], r_u[unused], r_rank[unused], r_c[unused], r_e[unused]
    order = np.lexsort((r_c, -r_e, r_rank, r_u))
    order = order[_first_of((r_u * n_i + r_c)[order])]  # an item once per learner
    order = order[_first_of((r_u * (cfg.top_gaps + 1) + r_rank)[order])]  # one item per gap
    order = order[_run_ranks(r_u[order]) < cfg.max_recommendations]
    g, r_u, r_c, r_e = g[order], r_u[order], r_c[order], r_e[order]
    content_id = pd.Series(item_ids.to_numpy()[r_c], dtype=object)
    skill_label = pd.Series(gaps["skill_name"].astype(object).to_numpy()[g], dtype=object) \
        .fillna(pd.Series(gaps["skill_id"].astype(object).to_numpy()[g], dtype=object))
    text = ("Try '" + pd.Series(titles[r_c], dtype=object).fillna(content_id).astype(str)
            + "' (" + pd.Series(item_type[r_c], dtype=object).fillna("content").astype(str)
            + ") for " + skill_label.astype(str)
            + ": learners who completed it scored "
            + effect_text(pd.Series(r_e)) + " points higher on "
            + skill_label.astype(str) + " assessments within "
            + str(cfg.effect_window_days) + " days.")
    out["recommendations"] = common.per_learner(text.astype(object),
                                                pd.Series(learners.take(r_u)), learners)
    return common.finish(out, COLUMNS, T, cfg.ttl)
