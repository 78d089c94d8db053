"""Concurrency pools: how many steps may hit the LMS API, or load the warehouse heavily, at once.

Put an asset in a pool with ``@dg.asset(pool=LMS_API, ...)``. Dagster (1.10+) then runs at most
``limit`` steps of that pool at a time across *all* runs of the instance, whatever the executor
(in_process, multiprocess, Celery, Kubernetes): a step waits for a free slot, it is not failed.

- ``lms_api``: every asset that calls the LMS read API (the sources layer). The API's rate limit
  is shared by all runs, so a backfill of ten days must not open thirty paginated extractions.
- ``warehouse_heavy``: steps that run long, memory- or IO-heavy SQL or COPY on the warehouse
  (the learner analytics, refreshing materialised views, the predictive cache). Light steps
  (a few rows, maintenance) stay outside any pool.

The limits live in Dagster's instance, not in code: ``dagster.yaml`` sets
``concurrency: pools: default_limit`` (the limit of every pool that has none of its own);
:data:`POOL_LIMITS` are applied by :func:`apply_pool_limits` — ``python -m
analytics_pipeline.orchestration.pools`` with DAGSTER_HOME and DAGSTER_PG_URL set — or one by one
with ``dagster instance concurrency set lms_api 2``. See docs/scaling.md.
"""
from __future__ import annotations

from typing import Any

LMS_API = "lms_api"
WAREHOUSE_HEAVY = "warehouse_heavy"

# pool -> slots (steps of that pool running at once, across all runs of the instance)
POOL_LIMITS: dict[str, int] = {LMS_API: 2, WAREHOUSE_HEAVY: 2}

# Kubernetes requests/limits for the pod of a heavy step (read by dagster-k8s' k8s_job_executor;
# ignored by the other executors). Use with ``@dg.asset(pool=WAREHOUSE_HEAVY, op_tags=HEAVY_STEP_TAGS)``.
HEAVY_STEP_K8S_CONFIG: dict[str, Any] = {
    "container_config": {
        "resources": {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"cpu": "2", "memory": "8Gi"},
        }
    }
}
HEAVY_STEP_TAGS: dict[str, Any] = {"dagster-k8s/config": HEAVY_STEP_K8S_CONFIG}

# Steps that only wait on the LMS API: small pods.
API_STEP_TAGS: dict[str, Any] = {
    "dagster-k8s/config": {
        "container_config": {"resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}}
    }
}


def apply_pool_limits(instance, limits: dict[str, int] | None = None) -> dict[str, int]:
    """Set the slots of each pool in ``instance`` (idempotent); return what was set."""
    limits = dict(POOL_LIMITS if limits is None else limits)
    for pool, slots in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, slots)
    return limits


def main() -> None:  # pragma: no cover - thin CLI
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        for pool, slots in apply_pool_limits(instance).items():
            print(f"pool {pool}: {slots} slot(s)")


if __name__ == "__main__":  # pragma: no cover
    main()
