"""The synthetic data: determinism, scale, and the distributions the pipeline relies on."""
from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from analytics_pipeline.sandbox import Platform, resolve_profile


def test_same_seed_same_data_other_seed_other_data(platform_xs):
    again, other = Platform("XS", 42), Platform("XS", 7)
    for name, table in platform_xs.tables.items():
        assert np.array_equal(table.sort_key, again.tables[name].sort_key), name
        assert table.rows(np.arange(len(table))) == again.tables[name].rows(np.arange(len(table))), name
    assert not np.array_equal(platform_xs.tables["learning-events"].sort_key,
                              other.tables["learning-events"].sort_key)


def test_xs_generates_fast_and_custom_overrides_apply():
    started = time.perf_counter()
    Platform("XS", 1)
    assert time.perf_counter() - started < 3
    small = Platform(resolve_profile("XS", learners=120, organizations=5, courses=6, skills=8, days=30), 3)
    assert small.profile.days == 30 and len(small.tables["courses"]) == 6


def test_distributions(client):
    users = client.read_all("users")
    learners = [u for u in users if "learner" in u["roles"]]
    sizes = Counter(u["organization_id"] for u in learners)
    assert sum(3 <= n <= 9 for n in sizes.values()) >= 2 and max(sizes.values()) > 50
    roles = {r for u in users for r in u["roles"]}
    assert {"learner", "trainer", "org_admin", "platform_admin"} <= roles
    orgs = client.read_all("organizations")
    assert any((o["settings"] or {}).get("timezone") for o in orgs)
    courses = client.read_all("courses")
    assert all(s["target_level"] > 0 for c in courses for s in c["skills"])
    assert {c["expected_weeks"] is None for c in courses} == {True, False}
    content = client.read_all("content")
    assert {c["content_type"] for c in content} == {"video", "reading", "quiz", "exercise", "project"}
    enrollments = client.read_all("enrollments")
    assert {e["status"] for e in enrollments} == {"active", "completed", "withdrawn"}
    assert any(e["target_completion_at"] is None for e in enrollments)
    prefs = client.read_all("user-preferences")
    assert {p["leaderboard_privacy"] for p in prefs} == {"public", "anonymous", "hidden"}
    assert any(not all(p["predictive_enabled"].values()) for p in prefs)
    results = client.read_all("assessment-results")
    failing = sum(r["score"] < r["passing_score"] for r in results) / len(results)
    assert 0.1 < failing < 0.7
    skills = client.read_all("user-skills")
    assert any(s["last_assessed_at"] is None for s in skills) and any(s["mastery_level"] >= 80 for s in skills)


def test_events_late_arrivals_and_progress(client):
    events = pd.DataFrame(client.read_all("learning-events"))
    lag = (pd.to_datetime(events.updated_at) - pd.to_datetime(events.occurred_at)
           - pd.to_timedelta(events.duration_seconds.fillna(0), unit="s"))
    late = (lag > pd.Timedelta(hours=1)).mean()
    assert 0.01 < late < 0.08
    assert set(events.event_type) == {"started", "progressed", "completed"}
    per_enrollment = events.groupby(["user_id", "course_id"]).progress_delta.sum()
    assert per_enrollment.max() <= 100.5  # deltas are rounded to 0.01
    daily = pd.to_datetime(events.occurred_at).dt.floor("D").value_counts()
    assert daily.max() > 2 * daily.median()  # bursts and quiet days


def test_drop_off_rule_no_events_after_the_quit_instant(client, platform_xs):
    truth = platform_xs.ground_truth()  # per enrollment (the drop-out rule is per course since issue 14)
    events = pd.DataFrame(client.read_all("learning-events"))
    last = pd.to_datetime(events.groupby(["user_id", "course_id"]).occurred_at.max()).rename("last")
    joined = truth.set_index(["user_id", "course_id"]).join(last, how="inner")
    quit = joined.loc[joined["quit_at"].notna()]
    assert (quit["last"] <= quit["quit_at"] + pd.Timedelta(hours=6)).all()
    now = pd.Timestamp(platform_xs.now, unit="s", tz="UTC")
    dropped = truth.quit_at.notna() & (truth.quit_at < now)
    assert 0.2 < dropped.mean() < 0.9
    assert truth.engagement[dropped].mean() < truth.engagement[~dropped].mean()


def test_short_timelines_generate_or_are_refused():
    # two weeks or less: one quiet and one burst week still fit (used to raise IndexError)
    short = Platform(resolve_profile("XS", days=10, future_days=0), 3)
    assert len(short.tables["learning-events"]) > 0
    with pytest.raises(ValueError, match="7 days of timeline"):
        resolve_profile("XS", days=3, future_days=0)
