"""Which ready step starts first when a run has more ready steps than slots: one table.

Dagster's executors start the ready steps of a run in descending order of the op tag
``dagster/priority`` (ties: plan order). The multiprocess executor runs ``max_concurrent`` steps
at once (the machine's cores by default: 2 here), so the order decides how long the nightly's
longest dependency chain waits. Measured at the L benchmark (100,000 learners, 2 cores, all
priorities 0): the chain learning_events → daily_activity → point_transactions, then user_points
and user_achievements (both wait for the ledger), is the nightly's critical path, yet daily_activity started 86 s after its last
input was ready because independent analytics (mastery, skill gap) had taken both slots first.

``deletions`` joined the chain (issue 18): it erased beside the first builds of daily_activity
and the activity rollup and waited for their table locks (31 s in the L run of session 14,
holding a slot); now both builds depend on it, so the erasure runs alone before them.

So: the chain first (every step on it waits for the previous one, nothing can overlap it later),
then content effectiveness (the longest analytic; the recommendations wait for its item
effects), then everything else. Priorities reorder only steps that are ready at the same time;
they never start a step before its inputs, and a small run (in_process) just takes them in this
order. Assets opt in with ``op_tags=priority_tags(name)``; the table below is the only place
that says who comes first (tests/orchestration/test_priorities.py checks the nightly's plan).
"""
from __future__ import annotations

PRIORITY_TAG = "dagster/priority"

#: the nightly's critical path: each step after the first waits for one before it
CRITICAL_CHAIN = ("learning_events", "deletions", "daily_activity", "point_transactions", "user_points",
                  "user_achievements")

PRIORITY: dict[str, int] = {
    **{name: 10 for name in CRITICAL_CHAIN},
    # the chain's three tables' independent checks, one step after them (assets/gamification.py):
    # retention, erasure and the analyst report wait for it
    "gamification_independent_checks": 10,
    "content_effectiveness_analytics": 5,
    # content effectiveness, engagement and velocity read the activity rollup: at 0 its
    # maintenance waited ~20 s behind mastery and performance in the L next day (session 15),
    # and content effectiveness, the longest next-day step, with it
    "learner_daily_activity": 5,
}


def priority_tags(asset_name: str) -> dict[str, str]:
    """The op tags giving ``asset_name`` its priority (empty for the default, 0)."""
    priority = PRIORITY.get(asset_name, 0)
    return {PRIORITY_TAG: str(priority)} if priority else {}
