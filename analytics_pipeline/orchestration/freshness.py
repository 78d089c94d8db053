"""Freshness expectations of what the dashboards read, applied in one place.

Dagster 1.13's ``FreshnessPolicy.time_window`` (not the legacy policy, not freshness checks):
an asset of a dashboard-facing group that has not materialized within ``FAIL_WINDOW`` shows as
failing freshness in the UI (WARN after ``WARN_WINDOW``). The nightly job runs once a day, so a
table older than a day and a half has missed a night. ``definitions.py`` calls
:func:`with_dashboard_freshness` on the merged definitions, so assets that other layers add to
these groups get the policy without doing anything.
"""
from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

DASHBOARD_GROUPS = frozenset({"learner_analytics", "aggregates", "predictive"})
WARN_WINDOW = timedelta(hours=26)
FAIL_WINDOW = timedelta(hours=36)
DASHBOARD_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=FAIL_WINDOW, warn_window=WARN_WINDOW)


def dashboard_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec with the dashboard freshness policy when it is in a dashboard-facing group
    (a policy an asset sets itself is kept)."""
    if spec.group_name in DASHBOARD_GROUPS:
        return dg.apply_freshness_policy(spec, DASHBOARD_FRESHNESS, overwrite_existing=False)
    return spec


def with_dashboard_freshness(defs: dg.Definitions) -> dg.Definitions:
    with warnings.catch_warnings():  # map_asset_specs is marked "preview" in 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=dashboard_freshness)
