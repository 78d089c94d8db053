"""The nightly's critical chain starts first when steps compete for the executor's slots."""
from __future__ import annotations

import dagster as dg

from analytics_pipeline.orchestration.priorities import CRITICAL_CHAIN, PRIORITY, PRIORITY_TAG


def _nightly():
    from analytics_pipeline.definitions import defs

    return defs.resolve_job_def("nightly"), defs.resolve_asset_graph()


def _step_priority(job, asset_name: str) -> int:
    return int(job.graph.node_named(asset_name).tags.get(PRIORITY_TAG, 0))


def test_the_chain_is_a_real_dependency_chain_of_the_nightly():
    job, graph = _nightly()
    for i, name in enumerate(CRITICAL_CHAIN[1:], start=1):
        parents = graph.get(dg.AssetKey(name)).parent_keys
        assert parents & {dg.AssetKey(before) for before in CRITICAL_CHAIN[:i]}, name
    assert all(job.graph.has_node_named(name) for name in PRIORITY)


def test_ready_steps_of_the_chain_outrank_independent_analytics():
    job, _graph = _nightly()
    chain = [_step_priority(job, name) for name in CRITICAL_CHAIN]
    assert min(chain) > 0
    # what competed with daily_activity for the two slots at L: mastery and skill gap
    for other in ("mastery_analytics", "skill_gap_analytics", "learner_velocity_analytics"):
        assert _step_priority(job, other) < min(chain)
    assert 0 < _step_priority(job, "content_effectiveness_analytics") < min(chain)
    # the executor's order (descending priority) puts the chain's step first
    ready = ["mastery_analytics", "skill_gap_analytics", "daily_activity"]
    assert sorted(ready, key=lambda name: -_step_priority(job, name))[0] == "daily_activity"


def test_the_gamification_checks_step_follows_its_tables_and_precedes_what_reads_its_verdict():
    # one step checks the ledger, totals and achievements after all three (their awards once);
    # retention, erasure and the analyst report wait for it (they change or report what it
    # reads, as when the checks ran inside the assets' steps); the leaderboards do not
    job, _graph = _nightly()
    deps = job.graph.dependency_structure

    def upstream(node):
        return {output.node_name for output in deps.all_upstream_outputs_from_node(node)}

    step = "gamification_independent_checks"
    assert upstream(step) >= {"point_transactions", "user_points", "user_achievements"}
    for waiting in ("retention", "erasure", "analyst_report"):
        assert step in upstream(waiting), waiting
    for free in ("leaderboard_weekly", "leaderboard_monthly"):
        assert step not in upstream(free) and "point_transactions" in upstream(free), free
    assert _step_priority(job, step) == _step_priority(job, "user_achievements")


def test_the_erasure_runs_before_the_first_builds_that_would_lock_it_out():
    # deletions erased beside the first builds of daily_activity and the activity rollup and waited
    # for their ACCESS EXCLUSIVE locks, holding a slot (31 s at L); both now wait for it instead
    _job, graph = _nightly()
    for build in ("daily_activity", "learner_daily_activity"):
        assert dg.AssetKey("deletions") in graph.get(dg.AssetKey(build)).parent_keys, build
    assert CRITICAL_CHAIN.index("deletions") < CRITICAL_CHAIN.index("daily_activity")


def test_the_rollup_is_not_ranked_below_the_analytics_that_wait_for_it():
    # a priority that only its readers carry is inverted: the readers cannot start before it
    job, graph = _nightly()
    rollup = _step_priority(job, "learner_daily_activity")
    readers = [k.to_user_string() for k in graph.get(dg.AssetKey("learner_daily_activity")).child_keys]
    assert "content_effectiveness_analytics" in readers
    assert all(rollup >= _step_priority(job, r) for r in readers), readers
    assert rollup > _step_priority(job, "mastery_analytics")  # what it waited behind at L
