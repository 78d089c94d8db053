"""Learner velocity: expected values computed by hand below each fixture."""
import pandas as pd
import pytest

from analytics_pipeline.analytics import CATEGORIES, AnalyticsInputs, compute
from analytics_pipeline.analytics.velocity import VelocityConfig, compute_velocity

T = pd.Timestamp("2025-03-29T00:00:00Z")
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(weeks=1)
COLUMNS = ["user_id", "current_pace", "target_pace", "trend_direction", "trend_percentage",
           "status", "estimated_completion", "calculated_at", "expires_at"]


def enr(user, course, progress, target=None, enrolled=T - 4 * WEEK, completed=None,
        withdrawn=None):
    return dict(id=f"{user}:{course}", user_id=user, course_id=course, enrolled_at=enrolled,
                target_completion_at=target, completed_at=completed, withdrawn_at=withdrawn,
                progress_percent=progress, status="active")


def events(rows):
    df = pd.DataFrame(rows, columns=["user_id", "course_id", "occurred_at", "progress_delta"])
    df["id"] = [f"e{i}" for i in range(len(df))]
    df["occurred_at"] = pd.to_datetime(df["occurred_at"], utc=True)
    return df


def frame(rows):
    df = pd.DataFrame(rows)
    for c in ("enrolled_at", "target_completion_at", "completed_at", "withdrawn_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


COURSES = pd.DataFrame({"id": ["c1", "c2", "c3"], "expected_weeks": [None, 10, None]})


def run(enrollments, evs, config=VelocityConfig()):
    return compute_velocity(frame(enrollments), COURSES, evs, T, config).set_index("user_id")


def test_paces_trend_rewind_and_late_rows():
    enrollments = [
        enr("u1", "c1", 40, target=T + 5 * WEEK),
        # no target date: enrolled_at + expected_weeks (10) of c2 = T - 8w + 10w = T + 2w
        enr("u1", "c2", 30, enrolled=T - 8 * WEEK),
    ]
    evs = events([
        ("u1", "c1", T + DAY, 5.0),          # after T: ignored for pace, rewound from progress
        ("u1", "c2", T - 3 * DAY, 8.0),
        ("u1", "c1", T - 20 * DAY, 10.0),
        ("u1", "c1", T - 30 * DAY, 50.0),    # before W
        ("u1", "c1", T - 1 * DAY, 10.0),     # listed late, occurred before T
    ])
    out = run(enrollments, evs)
    r = out.loc["u1"]
    # pace per enrollment: c1 (10 + 10) / 4 weeks, c2 8 / 4 weeks
    assert r.current_pace == pytest.approx(((10 + 10) / 4 + 8 / 4) / 2)  # 3.5
    # progress at T: c1 40 - 5 (event after T) = 35 -> 65 / 5 weeks; c2 (100 - 30) / 2 weeks
    assert r.target_pace == pytest.approx(((100 - 35) / 5 + (100 - 30) / 2) / 2)  # 24
    # last 14 days: 10 + 8 = 18, the 14 before: 10
    assert r.trend_percentage == pytest.approx((18 - 10) / 10 * 100)
    assert r.trend_direction == "accelerating"
    # 3.5 < 0.5 * 24
    assert r.status == "at_risk"
    remaining = ((100 - 35) + (100 - 30)) / 2
    assert r.estimated_completion == T + pd.Timedelta(days=remaining / 3.5 * 7)


def test_status_thresholds_and_inactivity():
    # every learner: progress 90, target in one week -> target pace (100 - 90) / 1 = 10
    users = {"ahead": 48, "on_track": 40, "behind": 24, "risk": 16}
    enrollments = [enr(u, "c1", 90, target=T + WEEK) for u in [*users, "idle"]]
    rows = [(u, "c1", T - DAY, float(points)) for u, points in users.items()]
    rows.append(("idle", "c1", T - 20 * DAY, 80.0))  # pace 20 but nothing for 14 days
    out = run(enrollments, events(rows))
    assert out.loc["ahead", "current_pace"] == 48 / 4  # 12 >= 1.1 * 10
    assert out.loc["ahead", "status"] == "ahead"
    assert out.loc["on_track", "status"] == "on_track"  # 10 >= 9
    assert out.loc["behind", "status"] == "behind"  # 6 >= 5
    assert out.loc["risk", "status"] == "at_risk"  # 4 < 5
    assert out.loc["idle", "current_pace"] == 80 / 4
    assert out.loc["idle", "status"] == "at_risk"
    assert (out["target_pace"] == (100 - 90) / 1).all()
    # ahead: 10 points left at 12 per week
    assert out.loc["ahead", "estimated_completion"] == T + pd.Timedelta(days=10 / 12 * 7)


def test_trend_rule_declining_stable_and_cap():
    enrollments = [enr(u, "c1", 0, target=T + 10 * WEEK) for u in ("dec", "sta", "new", "none")]
    evs = events([
        ("dec", "c1", T - 2 * DAY, 8.0), ("dec", "c1", T - 15 * DAY, 10.0),   # -20 %
        ("sta", "c1", T - 2 * DAY, 10.5), ("sta", "c1", T - 15 * DAY, 10.0),  # +5 %
        ("new", "c1", T - 2 * DAY, 5.0),                                      # from 0
    ])
    out = run(enrollments, evs)
    assert out.loc["dec", "trend_percentage"] == pytest.approx((8 - 10) / 10 * 100)
    assert out.loc["dec", "trend_direction"] == "declining"
    assert out.loc["sta", "trend_percentage"] == pytest.approx((10.5 - 10) / 10 * 100)
    assert out.loc["sta", "trend_direction"] == "stable"
    assert out.loc["new", "trend_percentage"] == 999.99  # capped (numeric(5,2))
    assert out.loc["new", "trend_direction"] == "accelerating"
    assert out.loc["none", "trend_percentage"] == 0
    assert out.loc["none", "trend_direction"] == "stable"


def test_no_events_pace_zero_has_no_estimate():
    out = run([enr("u1", "c1", 20, target=T + 4 * WEEK)], events([]))
    r = out.loc["u1"]
    assert r.current_pace == 0
    assert r.target_pace == (100 - 20) / 4
    assert pd.isna(r.estimated_completion)
    assert r.status == "at_risk"
    assert r.trend_direction == "stable"


def test_target_passed_and_default_weeks():
    enrollments = [
        enr("late", "c1", 50, target=T - 3 * DAY),                  # passed: one week left
        enr("soon", "c1", 50, target=T + 2 * DAY),                  # < 1 week: the real 2/7
        enr("dflt", "c3", 20, enrolled=T - 4 * WEEK),               # c3: no expected_weeks
    ]
    out = run(enrollments, events([]))
    assert out.loc["late", "target_pace"] == (100 - 50) / 1
    assert out.loc["soon", "target_pace"] == (100 - 50) / (2 / 7)   # 175, not 50
    # default 12 weeks from enrolment: 12 - 4 = 8 weeks left
    assert out.loc["dflt", "target_pace"] == (100 - 20) / 8
    out = run(enrollments, events([]), VelocityConfig(default_weeks=20))
    assert out.loc["dflt", "target_pace"] == (100 - 20) / 16


def test_who_gets_a_row():
    enrollments = [
        enr("active", "c1", 0, target=T + WEEK),
        enr("done", "c1", 100, completed=T - DAY),
        enr("gone", "c1", 10, withdrawn=T),                     # withdrawn at T: not active
        enr("future", "c1", 0, enrolled=T + DAY),
        enr("backfill", "c1", 100, completed=T + DAY),          # completed after T: active
    ]
    evs = events([("done", "c1", T - DAY, 5.0)])
    out = compute_velocity(frame(enrollments), COURSES, evs, T)
    assert list(out.columns) == COLUMNS
    assert sorted(out["user_id"]) == ["active", "backfill"]
    assert out["user_id"].is_unique
    assert (out["calculated_at"] == T).all()
    assert (out["expires_at"] == T + pd.Timedelta(hours=24)).all()


def test_no_enrollments_and_registry():
    out = compute_velocity(frame([enr("x", "c1", 0)]).iloc[:0], COURSES, events([]), T)
    assert list(out.columns) == COLUMNS and len(out) == 0
    assert CATEGORIES["velocity"][1] == "learner_velocity_analytics"
    inputs = AnalyticsInputs(enrollments=frame([enr("u1", "c1", 0, target=T + WEEK)]),
                             courses=COURSES, learning_events=events([]))
    assert compute("velocity", inputs, T)["user_id"].tolist() == ["u1"]


def test_a_pace_on_a_half_cent_does_not_depend_on_the_order_of_the_rows():
    # 12.63 + 15.48 + 8.79 + 3.48 = 40.38 points in W -> 40.38 / 4 = 10.095 points/week, exactly
    # on a half cent; a float sum in another order lands a hair above or below it (found by
    # search: 10.09 for some orders, 10.10 for others before sums were rounded to the cent)
    import itertools

    deltas = [12.63, 15.48, 8.79, 3.48]
    paces = set()
    for order in itertools.permutations(deltas):
        evs = events([("u1", "c1", T - (i + 1) * DAY, d) for i, d in enumerate(order)])
        paces.add(run([enr("u1", "c1", 50, target=T + 5 * WEEK)], evs).loc["u1"].current_pace)
    assert len(paces) == 1, paces
    assert paces.pop() in (10.09, 10.1)


def test_status_uses_the_real_time_left():
    """Issue 15, defect 2: 66.6 points left 2.4 days before the deadline need 194 points a
    week; a pace of 60 a week is at_risk (clipped to one week left it looked on_track)."""
    enrollments = [enr("tight", "c1", 33.4, target=T + pd.Timedelta(days=2.4)),
                   enr("huge", "c1", 0, target=T + pd.Timedelta(seconds=1))]
    evs = events([("tight", "c1", T - DAY, 240.0), ("huge", "c1", T - DAY, 1.0)])
    out = run(enrollments, evs)
    assert out.loc["tight", "current_pace"] == 60.0
    assert out.loc["tight", "target_pace"] == round(66.6 / (2.4 / 7), 2)
    assert out.loc["tight", "status"] == "at_risk"
    # one second left: 100 points in 1/604800 week, kept (numeric(16,2) holds it)
    assert out.loc["huge", "target_pace"] == 100 * 604800


def test_trend_classified_on_the_exact_change():
    """Issue 15, defect 5 (round once): +10.0033 % is above +10 %: accelerating, shown as 10.0
    (it was rounded to 10.0 first and then called stable)."""
    evs = events([("u", "c1", T - 20 * DAY, 100.0), ("u", "c1", T - 19 * DAY, 100.0),
                  ("u", "c1", T - 18 * DAY, 100.0),
                  ("u", "c1", T - 3 * DAY, 110.0), ("u", "c1", T - 2 * DAY, 110.0),
                  ("u", "c1", T - 1 * DAY, 110.01)])
    out = run([enr("u", "c1", 0, target=T + 10 * WEEK)], evs)
    assert out.loc["u", "trend_percentage"] == 10.0
    assert out.loc["u", "trend_direction"] == "accelerating"


def test_estimate_of_exactly_520_weeks_is_shown():
    # the learner usr_0044301 of the L benchmark at 2026-11-30: two active enrollments at
    # 15.30 % (nothing gained in 28 d) and 1.40 % (1.41 gained, clipped at 0 -> kept 1.40 now)
    # remaining = mean(100 - 15.30, 100 - 1.40) = (84.70 + 98.60) / 2 = 91.65
    # current pace = mean(0 / 4, 1.41 / 4) = 0.17625 points/week
    # weeks to go = 91.65 / 0.17625 = 520 exactly (float: 520.0000000000001): not "beyond 520"
    enrollments = [enr("u1", "c1", 15.30, target=T - 2 * WEEK), enr("u1", "c3", 1.40)]
    evs = events([("u1", "c3", T - 3 * DAY, 1.41)])
    r = run(enrollments, evs).loc["u1"]
    assert 91.65 / 0.17625 > 520                        # the float quotient alone would drop it
    assert r.estimated_completion == T + 520 * WEEK     # 2025-03-29 + 3640 days
    # one cent less gained: 91.65 / 0.175 = 523.7 weeks, beyond: null
    r = run(enrollments, events([("u1", "c3", T - 3 * DAY, 1.40)])).loc["u1"]
    assert pd.isna(r.estimated_completion)
