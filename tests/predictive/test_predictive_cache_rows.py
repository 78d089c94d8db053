"""Cache rows: shape, TTL and opt-outs."""
import pandas as pd
import pytest

from analytics_pipeline.predictive.cache_rows import opted_out_users, to_cache_rows

T = pd.Timestamp("2024-06-01", tz="UTC")
PREFS = pd.DataFrame(
    {
        "user_id": ["u1", "u2", "u4", "u5"],
        "predictive_analytics_enabled": [
            {"dropOffRisk": False, "forecasting": True, "recommendations": True},
            '{"forecasting": false}',
            {},  # missing keys = enabled
            None,
        ],
    }
)  # u3: no preference row = enabled
USERS = ["u1", "u2", "u3", "u4", "u5"]


def drop_off_frame():
    return pd.DataFrame({"user_id": USERS, "probability": [0.9, 0.5, 0.1, 0.65, 0.3], "confidence_score": 83.456,
                         "top_reasons": [["days_since_last_activity: raises risk"]] * 5, "method": "model"})


def test_drop_off_rows_and_opt_out():
    rows = to_cache_rows("drop_off_risk", drop_off_frame(), T, PREFS)
    assert list(rows.columns) == ["user_id", "analytics_type", "data", "confidence_score", "calculated_at", "expires_at"]
    assert list(rows["user_id"]) == ["u2", "u3", "u4", "u5"]
    assert (rows["analytics_type"] == "drop_off_risk").all()
    assert (rows["calculated_at"] == T).all() and (rows["expires_at"] == T + pd.Timedelta(hours=48)).all()
    assert (rows["confidence_score"] == 83.46).all()
    d = rows.set_index("user_id")["data"]
    assert d["u2"] == {"probability": 0.5, "risk_level": "medium", "top_reasons": ["days_since_last_activity: raises risk"],
                       "method": "model", "target": "enrollment ends without completion", "enrollments": []}
    assert d["u4"]["risk_level"] == "high" and d["u3"]["risk_level"] == "low"
    # the same probability with a confidence under the threshold (60) is never "high"
    unsure = to_cache_rows("drop_off_risk", drop_off_frame().assign(confidence_score=59.0), T, PREFS)
    assert unsure.set_index("user_id")["data"]["u4"]["risk_level"] == "medium"


@pytest.mark.parametrize("kind, removed", [("forecast", ["u2"]), ("recommendations", [])])
def test_other_kinds_follow_their_own_key(kind, removed):
    frame = pd.DataFrame({"user_id": USERS, "data": [{"x": i} for i in range(5)], "confidence_score": 150.0})
    rows = to_cache_rows(kind, frame, T, PREFS)
    assert sorted(rows["user_id"]) == sorted(set(USERS) - set(removed))
    assert (rows["analytics_type"] == kind).all() and (rows["confidence_score"] == 100.0).all()
    assert list(opted_out_users(kind, PREFS)) == removed


def test_no_preferences_keeps_everyone_and_unknown_kind_fails():
    assert len(to_cache_rows("drop_off_risk", drop_off_frame(), T, None)) == 5
    with pytest.raises(ValueError):
        to_cache_rows("churn", drop_off_frame(), T, PREFS)
