"""TEST-ONLY code location — never part of the product's workspace.yaml.

Loaded beside the project's code location by the UI tests' webserver (tests/ui/conftest.py) to
prove, through the public GraphQL API, that a failing blocking asset check shows as failed in the
UI. Its one asset succeeds; its one check always fails.
"""

import dagster as dg

GROUP = "ui_test_only"


@dg.asset(
    group_name=GROUP,
    kinds={"python"},
    owners=["team:data-platform"],
    code_version="1",
    description="TEST-ONLY: a trivial asset whose blocking check always fails (tests/ui/failing_location.py).",
)
def ui_check_probe() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 0})


@dg.asset_check(asset=ui_check_probe, blocking=True, description="TEST-ONLY: fails on purpose.")
def ui_probe_always_fails() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"reason": "deliberate failure for the UI tests"})


ui_failing_check_job = dg.define_asset_job("ui_failing_check_job", selection=dg.AssetSelection.assets(ui_check_probe))

defs = dg.Definitions(assets=[ui_check_probe], asset_checks=[ui_probe_always_fails], jobs=[ui_failing_check_job])
