"""Course-relative features and drop-out labels per *enrollment* (pure pandas).

Target: an enrollment active at an instant ``t`` **drops out** when it ends without completion:
it is withdrawn later, or (scheduled course) it has no learning event for the rest of the run
(the run went on without the learner, whatever completion the platform records at its end), or
(self-paced course) it is never completed and has no learning event for ``inactive_days`` (30)
days (:func:`row_labels`). Labels come from
the platform's own *finished* enrollments as known at ``T``: those of a scheduled run that
ended by ``T``, and self-paced ones completed, withdrawn or idle for ``inactive_days`` at ``T``
(:func:`outcomes`). A finished enrollment dropped out when it was withdrawn or never completed.

Course-relative time. A *scheduled* course (``courses.starts_at/ends_at``, contract 1.1) is
compared at the same **position** of its run: ``(t - starts_at) / (ends_at - starts_at)``; a
*self-paced* one at the same **weeks since enrollment**. A training row is an enrollment of a
finished run at a position (or week) of the grid the current enrollments are at
(:func:`training_rows`), active at that instant ``t``; its features use only rows with their
own time ``<= t`` (events' ``occurred_at``, results' ``submitted_at``; the inputs are already
restricted to what was known at ``T``).

Features of an (enrollment, ``t``) row (:data:`FEATURES`); NaN where undefined (the model imputes):

``scheduled``                 1 for a scheduled course.
``position``                  position of the run at ``t`` (scheduled), else NaN.
``weeks_enrolled``            weeks from ``enrolled_at`` to ``t``.
``registration_lead_days``    days from ``enrolled_at`` to ``starts_at`` (positive: registered
                              before the start; scheduled only).
``deadlines_passed``          content items of the course with ``due_at <= t``.
``missed_share``              share of those with no submission by ``t`` (a learning event on the
                              item, or a result with ``assessment_id`` = the item).
``missed_weight_share``       the same weighted by ``content.weight`` (NaN when the weights are 0).
``last_deadline_missed``      1 when the latest passed deadline has no submission by ``t``.
``mean_lateness_days``        mean of max(0, first submission - due) over submitted passed items.
``mean_days_before_due``      mean of (due - first submission) days over submitted passed items
                              (signed: early is positive).
``submitted_ahead``           items not yet due at ``t`` already submitted.
``events``                    log(1 + learning events in the course by ``t``).
``previous_finished``, ``previous_dropout_share``  the learner's other enrollments finished by
                              ``t`` (ended at or before it) and the share of them that dropped out.
``events_vs_cohort``          (events + 1) / (mean events of the course's cohort + 1): the cohort
                              is the rows of the same course at the same position (week).
``active_days_recent``        distinct UTC days with an event in the course in the last
                              ``recent_days`` (28).
``never_active``              1 without any event in the course by ``t``.
``days_since_last_activity``  days from the last event in the course (else from
                              max(enrolled_at, starts_at)) to ``t``.
``recency_vs_rhythm``         that over the course's rhythm: the median gap between its
                              consecutive deadlines (days), else the cohort's mean recency
                              (a learner who just submitted has nothing to do until the next
                              deadline: raw recency runs backwards on a deadline-paced course).
``concurrent_enrollments``    the learner's enrollments active at ``t``.
``result_avg``, ``result_pass_share``, ``results``  over the course's results by ``t`` (NaN /
                              0 on a platform without results).
``<feature>_rel``             for the per-learner features of :data:`RELATIVE`: the value minus
                              the mean of the cohort (same course, same position / week).

Day cells (issue 18). For rows whose ``t`` is a UTC midnight at or after every event (the
scoring rows at ``T``), the events may come with a count ``n``: one row per (learner, course,
day bin (day, day + 1]) of the daily activity rollup with ``occurred_at`` = the bin's last event
and ``n`` = its events (:func:`cell_events`; a second row, ``n`` = 0, at its first event when that
one falls on another UTC date: an event at exactly midnight ends the bin) — the bins before the
recent window may come summed into one row per course at their last event —, plus each due
item's first submission (``n`` = 0). Every feature is the same as from the raw events: counts sum
``n``; the last activity is the last row; a bin lies wholly inside or outside the recent window
(its bounds are midnights), and its rows carry the UTC dates of its events; the first submission
of an item is its row.

The model uses :data:`MODEL_FEATURES` (the relative ones and the learner's context); every
feature of :data:`FEATURES` is a single-feature baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import _utc, as_instant, known_at

DAY = pd.Timedelta(days=1)
FEATURES = [
    "scheduled", "position", "weeks_enrolled", "registration_lead_days", "deadlines_passed", "missed_share",
    "missed_weight_share", "last_deadline_missed", "mean_lateness_days", "mean_days_before_due", "submitted_ahead",
    "events", "events_vs_cohort", "previous_finished", "previous_dropout_share",
    "active_days_recent", "never_active", "days_since_last_activity", "recency_vs_rhythm",
    "concurrent_enrollments", "result_avg", "result_pass_share", "results",
]
# Per-learner features that are also given relative to the cohort (value - the cohort's mean):
# comparable across courses of different pace, which absolute values are not.
RELATIVE = [
    "missed_share", "missed_weight_share", "last_deadline_missed", "mean_lateness_days", "mean_days_before_due",
    "submitted_ahead", "events", "active_days_recent", "never_active", "days_since_last_activity",
    "recency_vs_rhythm", "result_avg", "result_pass_share",
]
FEATURES += [f"{c}_rel" for c in RELATIVE]
# The model's features: the cohort-relative activity and deadline behaviour and the learner's
# own other enrollments. Left to the baselines: the absolute values (a course's pace, its number
# of deadlines, its position identify the course and do not transfer to another one) and the
# registration timing (registration habits differ by course); measured by leave-course-out on
# the 2013 history, docs/predictive.md.
MODEL_FEATURES = [
    "events_rel", "active_days_recent_rel", "missed_share_rel", "missed_weight_share_rel", "last_deadline_missed_rel",
    "days_since_last_activity_rel", "recency_vs_rhythm_rel", "mean_lateness_days_rel", "never_active_rel",
    "events_vs_cohort", "result_avg_rel", "result_pass_share_rel", "concurrent_enrollments", "previous_finished",
    "previous_dropout_share",
]
ROW_KEY = ["user_id", "course_id", "t"]


@dataclass(frozen=True)
class CourseFeatureConfig:
    inactive_days: int = 30  # self-paced: this long without activity = dropped out
    recent_days: int = 28
    position_step: float = 0.05  # positions are rounded to this grid (training rows, cohorts)
    max_positions: int = 4  # at most this many training positions / weeks (quantiles of the current ones)
    default_positions: tuple[float, ...] = (0.1, 0.25, 0.5)
    default_weeks: tuple[int, ...] = (1, 2, 4, 8)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return _utc(frame[name]) if name in frame.columns else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")


def known_inputs(events, enrollments, results, T):
    """The inputs as known at ``T``: events/results with time and ``updated_at`` <= T, enrollments
    enrolled by T with a later completion/withdrawal blanked."""
    T = as_instant(T)
    ev = known_at(events, "occurred_at", T)
    res = known_at(results, "submitted_at", T)
    enr = enrollments.assign(enrolled_at=_utc(enrollments["enrolled_at"]), completed_at=_col(enrollments, "completed_at"),
                             withdrawn_at=_col(enrollments, "withdrawn_at"))
    enr = enr.loc[(enr["enrolled_at"] <= T).fillna(False).to_numpy(dtype=bool)]
    enr = enr.assign(completed_at=enr["completed_at"].where(enr["completed_at"] <= T),
                     withdrawn_at=enr["withdrawn_at"].where(enr["withdrawn_at"] <= T))
    ev = ev.assign(occurred_at=_utc(ev["occurred_at"]))
    return ev, enr, res.assign(submitted_at=_utc(res["submitted_at"]))


def with_runs(enrollments: pd.DataFrame, courses: pd.DataFrame) -> pd.DataFrame:
    """Enrollments (one per user and course) with their course's run: starts_at, ends_at, scheduled."""
    runs = courses.rename(columns={"id": "course_id"})
    runs = runs.assign(starts_at=_col(runs, "starts_at"), ends_at=_col(runs, "ends_at"))[["course_id", "starts_at", "ends_at"]]
    e = enrollments.sort_values("enrolled_at").drop_duplicates(["user_id", "course_id"], keep="last")
    e = e.merge(runs.drop_duplicates("course_id"), on="course_id", how="left")
    e["scheduled"] = (e["starts_at"].notna() & e["ends_at"].notna() & (e["ends_at"] > e["starts_at"])).to_numpy()
    return e.reset_index(drop=True)


def outcomes(enr: pd.DataFrame, events: pd.DataFrame, T, config: CourseFeatureConfig = CourseFeatureConfig()) -> pd.DataFrame:
    """Per enrollment (``with_runs`` frame, known at T): finished, dropped, ended_at (module docstring)."""
    T = as_instant(T)
    last = events.groupby(["user_id", "course_id"])["occurred_at"].max().rename("last_activity").reset_index()
    e = enr.merge(last, on=["user_id", "course_id"], how="left")
    idle_from = e["last_activity"].fillna(e["enrolled_at"])
    idle = pd.Series(idle_from + pd.Timedelta(days=config.inactive_days), index=e.index)
    done, left = e["completed_at"].notna(), e["withdrawn_at"].notna()
    sched = e["scheduled"].to_numpy(dtype=bool)
    run_over = pd.Series(sched, index=e.index) & (e["ends_at"] <= T).fillna(False)
    expired = pd.Series(~sched, index=e.index) & ~done & ~left & (idle <= T)
    # a scheduled run's enrollments are labelled once the run ended (while it runs, only its
    # withdrawals would be known: a sample biased towards drop-outs)
    e["finished"] = run_over | (pd.Series(~sched, index=e.index) & (done | left | expired))
    e["dropped"] = e["finished"] & (left | ~done)
    e["ended_at"] = e["withdrawn_at"].fillna(e["completed_at"]).fillna(e["ends_at"].where(pd.Series(sched, index=e.index), idle))
    return e


def position_grid(values: pd.Series, step: float, most: int, default) -> list[float]:
    """The distinct rounded values, at most ``most`` of them (their quantiles), or ``default``."""
    v = (values.dropna() / step).round() * step
    if v.empty:
        return list(default)
    uniq = np.unique(np.round(v.to_numpy(dtype=float), 6))
    if len(uniq) > most:
        uniq = np.unique(np.round(np.quantile(v, np.linspace(0, 1, most)) / step) * step)
    return [float(x) for x in uniq]


def scoring_rows(enr: pd.DataFrame, T) -> pd.DataFrame:
    """The enrollments active at T (``with_runs`` frame), one row each with t = T."""
    T = as_instant(T)
    active = (enr["enrolled_at"] <= T) & enr["completed_at"].isna() & enr["withdrawn_at"].isna()
    return _placed(enr.loc[active.to_numpy(dtype=bool)].assign(t=T))


def _placed(rows: pd.DataFrame) -> pd.DataFrame:
    length = rows["ends_at"] - rows["starts_at"]
    pos = ((rows["t"] - rows["starts_at"]) / length).where(rows["scheduled"].to_numpy(dtype=bool))
    weeks = (rows["t"] - rows["enrolled_at"]) / pd.Timedelta(days=7)
    return rows.assign(position=pos.astype(float), weeks_enrolled=weeks.astype(float)).reset_index(drop=True)


def training_rows(out: pd.DataFrame, current: pd.DataFrame, config: CourseFeatureConfig = CourseFeatureConfig()) -> pd.DataFrame:
    """Rows of the finished enrollments (``outcomes`` frame) at the positions / weeks the
    ``current`` (``scoring_rows``) enrollments are at; each active at its ``t``; label = dropped."""
    fin = out.loc[out["finished"].to_numpy(dtype=bool)]
    sched = fin.loc[fin["scheduled"].to_numpy(dtype=bool)]
    paced = fin.loc[~fin["scheduled"].to_numpy(dtype=bool)]
    cur_s = current.loc[current["scheduled"].to_numpy(dtype=bool)]
    positions = position_grid(cur_s["position"], config.position_step, config.max_positions, config.default_positions)
    weeks = position_grid(current.loc[~current["scheduled"].to_numpy(dtype=bool), "weeks_enrolled"].clip(1, 52), 1.0,
                          config.max_positions, config.default_weeks)
    parts = [sched.assign(t=sched["starts_at"] + p * (sched["ends_at"] - sched["starts_at"])) for p in positions]
    parts += [paced.assign(t=paced["enrolled_at"] + pd.Timedelta(days=7 * w)) for w in weeks]
    rows = pd.concat(parts, ignore_index=True) if parts else out.iloc[:0].assign(t=pd.Series(dtype="datetime64[us, UTC]"))
    active = (rows["enrolled_at"] <= rows["t"]) & (rows["ended_at"] > rows["t"])
    rows = rows.loc[active.to_numpy(dtype=bool)]
    return _placed(rows.assign(label=row_labels(rows)))


def row_labels(rows: pd.DataFrame) -> pd.Series:
    """Dropped out after ``t``: a scheduled enrollment withdrawn later or without any learning event
    after ``t`` (completion recorded or not: the run went on without the learner); a self-paced
    one withdrawn or idle for ``inactive_days`` without completing (``outcomes``' ``dropped``)."""
    sched = rows["scheduled"].to_numpy(dtype=bool)
    idle_after = (rows["last_activity"].isna() | (rows["last_activity"] <= rows["t"])).to_numpy(dtype=bool)
    gone = rows["withdrawn_at"].notna().to_numpy(dtype=bool)
    return pd.Series(np.where(sched, gone | idle_after, rows["dropped"].to_numpy(dtype=bool)), index=rows.index, dtype=bool)


def cell_events(cells: pd.DataFrame) -> pd.DataFrame:
    """Event rows (``user_id, course_id, content_id, occurred_at, n``) of day cells
    (``user_id, course_id, first_at, last_at, n``; module docstring, "Day cells")."""
    first, last = _utc(cells["first_at"]), _utc(cells["last_at"])
    other = (first.dt.floor("D") != last.dt.floor("D")).to_numpy(dtype=bool)
    keys = cells[["user_id", "course_id"]]
    rows = pd.concat([keys.assign(occurred_at=last, n=cells["n"].to_numpy(dtype="int64")),
                      keys.loc[other].assign(occurred_at=first.loc[other], n=0)], ignore_index=True)
    return rows.assign(content_id=pd.Series(None, index=rows.index, dtype=object))[
        ["user_id", "course_id", "content_id", "occurred_at", "n"]]


def _per_row(values: pd.Series, rows: pd.DataFrame, fill=np.nan) -> np.ndarray:
    return values.reindex(rows.index, fill_value=fill).to_numpy(dtype=float)


# The columns whose cohort means the cohort-relative features need (additive: sums and counts).
COHORT_COLUMNS = ["n_events", "days_since_last_activity", *[c for c in RELATIVE if c not in ("recency_vs_rhythm",
                                                                                            "days_since_last_activity")]]


def build_row_features(rows: pd.DataFrame, events: pd.DataFrame, enrollments: pd.DataFrame, content: pd.DataFrame,
                       results: pd.DataFrame, config: CourseFeatureConfig = CourseFeatureConfig(),
                       cohort_means: pd.DataFrame | None = None) -> pd.DataFrame:
    """:data:`FEATURES` for each (enrollment, t) row of ``rows`` (same index order).

    The cohort of a row is every row of ``rows`` with the same course and position (week), unless
    ``cohort_means`` (:func:`cohort_means` over :func:`cohort_parts` of a larger set, e.g. every
    learner of the platform read in chunks) gives the cohorts' means."""
    raw = raw_row_features(rows, events, enrollments, content, results, config)
    own = cohort_means_of([cohort_parts(raw)])
    return finish_row_features(raw, own if cohort_means is None else cohort_means.combine_first(own))


def cohort_parts(raw: pd.DataFrame) -> pd.DataFrame:
    """Per cohort: the sum and the non-null count of each of :data:`COHORT_COLUMNS`."""
    g = raw.groupby("cohort")[COHORT_COLUMNS]
    return pd.concat({"sum": g.sum(), "count": g.count()}, axis=1)


def cohort_means_of(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The cohorts' means from the parts of several row sets (chunks)."""
    total = pd.concat(parts).groupby(level=0).sum()
    return total["sum"] / total["count"].where(total["count"] > 0)


def finish_row_features(raw: pd.DataFrame, means: pd.DataFrame) -> pd.DataFrame:
    """The cohort-dependent features: events vs cohort, recency vs rhythm, ``<feature>_rel``."""
    out = raw.copy()
    m = means.reindex(raw["cohort"].to_numpy())
    m.index = raw.index
    out["events_vs_cohort"] = (raw["n_events"] + 1) / (m["n_events"].fillna(0.0) + 1)
    rhythm = raw["rhythm"].fillna(m["days_since_last_activity"]).clip(lower=1.0)
    out["recency_vs_rhythm"] = raw["days_since_last_activity"] / rhythm
    m["recency_vs_rhythm"] = m["days_since_last_activity"] / rhythm
    for c in RELATIVE:
        out[f"{c}_rel"] = out[c] - m[c]
    return out[FEATURES].astype(float)


def raw_row_features(rows: pd.DataFrame, events: pd.DataFrame, enrollments: pd.DataFrame, content: pd.DataFrame,
                     results: pd.DataFrame, config: CourseFeatureConfig = CourseFeatureConfig()) -> pd.DataFrame:
    """Every feature that needs no cohort, and per row its ``cohort``, ``n_events`` and the course's
    deadline ``rhythm`` (NaN without two deadlines)."""
    r = rows.reset_index(drop=True)
    r.index.name = "row"
    out = pd.DataFrame(index=r.index)
    out["scheduled"] = r["scheduled"].astype(float)
    out["position"] = r["position"]
    out["weeks_enrolled"] = r["weeks_enrolled"]
    out["registration_lead_days"] = ((r["starts_at"] - r["enrolled_at"]) / DAY).where(r["scheduled"].to_numpy(dtype=bool)).astype(float)
    key = r[ROW_KEY].reset_index()

    counted = "n" in events.columns  # day cells (module docstring)
    ev = events[[c for c in ("user_id", "course_id", "content_id", "occurred_at", "n") if c in events.columns]]
    if "content_id" not in ev.columns:
        ev = ev.assign(content_id=pd.Series(None, index=events.index, dtype=object))
    ev = ev.merge(key, on=["user_id", "course_id"])
    ev = ev.loc[(ev["occurred_at"] <= ev["t"]).to_numpy(dtype=bool)]
    n_events = (ev.groupby("row")["n"].sum() if counted else ev.groupby("row").size()).reindex(r.index, fill_value=0).astype(float)
    out["events"] = np.log1p(n_events)
    out["cohort"] = r["course_id"].astype(str) + "|" + np.where(
        r["scheduled"].to_numpy(dtype=bool), (r["position"] / config.position_step).round().astype("Int64").astype(str),
        "w" + r["weeks_enrolled"].round().astype("Int64").astype(str))
    out["n_events"] = n_events
    recent = ev.loc[((ev["t"] - ev["occurred_at"]) < pd.Timedelta(days=config.recent_days)).to_numpy(dtype=bool)]
    out["active_days_recent"] = _per_row(recent.assign(day=recent["occurred_at"].dt.floor("D")).groupby("row")["day"].nunique(), r, 0.0)
    last = ev.groupby("row")["occurred_at"].max().reindex(r.index)
    out["never_active"] = last.isna().astype(float)
    since = last.fillna(pd.concat([r["enrolled_at"], r["starts_at"]], axis=1).max(axis=1))
    out["days_since_last_activity"] = ((r["t"] - since) / DAY).clip(lower=0).astype(float)

    # deadlines
    items = content.rename(columns={"id": "content_id"})
    due = _col(items, "due_at")
    weight = pd.to_numeric(items["weight"], errors="coerce") if "weight" in items.columns else pd.Series(np.nan, index=items.index)
    items = items.assign(due_at=due, weight=weight.astype(float))[["content_id", "course_id", "due_at", "weight"]]
    items = items.loc[items["due_at"].notna().to_numpy(dtype=bool)]
    dl = items.merge(key, on="course_id")
    dl = dl.loc[(dl["due_at"] <= dl["t"]).to_numpy(dtype=bool)]
    subs = ev.loc[ev["content_id"].notna(), ["row", "content_id", "occurred_at"]]
    if len(results) and "assessment_id" in results.columns:
        res_rows = results[["user_id", "course_id", "assessment_id", "submitted_at"]].merge(key, on=["user_id", "course_id"])
        res_rows = res_rows.loc[(res_rows["submitted_at"] <= res_rows["t"]).to_numpy(dtype=bool)]
        subs = pd.concat([subs, res_rows.rename(columns={"assessment_id": "content_id", "submitted_at": "occurred_at"})[
            ["row", "content_id", "occurred_at"]]], ignore_index=True)
    first = subs.groupby(["row", "content_id"])["occurred_at"].min().rename("submitted").reset_index()
    dl = dl.merge(first, on=["row", "content_id"], how="left")
    dl["missed"] = dl["submitted"].isna().astype(float)
    dl["w"] = dl["weight"].fillna(0.0)
    g = dl.groupby("row")
    out["deadlines_passed"] = _per_row(g.size(), r, 0.0)
    out["missed_share"] = _per_row(g["missed"].mean(), r)
    wsum = g["w"].sum()
    out["missed_weight_share"] = _per_row((dl["w"] * dl["missed"]).groupby(dl["row"]).sum() / wsum.where(wsum > 0), r)
    latest = dl.sort_values(["row", "due_at"]).drop_duplicates("row", keep="last").set_index("row")["missed"]
    out["last_deadline_missed"] = _per_row(latest, r)
    late = ((dl["submitted"] - dl["due_at"]) / DAY).clip(lower=0)
    out["mean_lateness_days"] = _per_row(late.groupby(dl["row"]).mean(), r)
    out["mean_days_before_due"] = _per_row(((dl["due_at"] - dl["submitted"]) / DAY).groupby(dl["row"]).mean(), r)
    ahead = first.merge(items[["content_id", "due_at"]], on="content_id").merge(key[["row", "t"]], on="row")
    out["submitted_ahead"] = _per_row(ahead.loc[(ahead["due_at"] > ahead["t"]).to_numpy(dtype=bool)].groupby("row").size(), r, 0.0)

    gaps = items.sort_values(["course_id", "due_at"]).drop_duplicates(["course_id", "due_at"])
    gap_days = (gaps.groupby("course_id")["due_at"].diff() / DAY).dropna()
    rhythm = gap_days.groupby(gaps.loc[gap_days.index, "course_id"]).median()
    out["rhythm"] = r["course_id"].map(rhythm).astype(float)

    en = enrollments[["user_id", "enrolled_at", "completed_at", "withdrawn_at"]].merge(key[["row", "user_id", "t"]], on="user_id")
    end = en["withdrawn_at"].fillna(en["completed_at"])
    on = (en["enrolled_at"] <= en["t"]) & (end.isna() | (end > en["t"]))
    out["concurrent_enrollments"] = _per_row(on.groupby(en["row"]).sum(), r, 0.0)

    if {"ended_at", "dropped", "finished"} <= set(enrollments.columns):
        prev = enrollments[["user_id", "course_id", "ended_at", "dropped", "finished"]].rename(columns={"course_id": "other"})
        prev = prev.merge(key[["row", "user_id", "course_id", "t"]], on="user_id")
        prev = prev.loc[(prev["finished"] & (prev["other"] != prev["course_id"]) & (prev["ended_at"] <= prev["t"])).to_numpy(dtype=bool)]
        gp = prev.groupby("row")["dropped"]
        out["previous_finished"] = _per_row(gp.size(), r, 0.0)
        out["previous_dropout_share"] = _per_row(gp.mean(), r)
    else:
        out["previous_finished"], out["previous_dropout_share"] = 0.0, np.nan

    if len(results):
        rs = results[["user_id", "course_id", "score", "passing_score", "submitted_at"]].merge(key, on=["user_id", "course_id"])
        rs = rs.loc[(rs["submitted_at"] <= rs["t"]).to_numpy(dtype=bool)]
        score = pd.to_numeric(rs["score"]).astype(float)
        rs = rs.assign(score=score, passed=(score >= pd.to_numeric(rs["passing_score"]).astype(float)).astype(float))
        gr = rs.groupby("row")
        out["result_avg"], out["result_pass_share"] = _per_row(gr["score"].mean(), r), _per_row(gr["passed"].mean(), r)
        out["results"] = _per_row(gr.size(), r, 0.0)
    else:
        out["result_avg"], out["result_pass_share"], out["results"] = np.nan, np.nan, 0.0
    return out
