"""The source is selected by configuration: which raw tables the LRS supplies, and the graph that results."""
import json
import os
import subprocess
import sys

import pytest

from analytics_pipeline.settings import PROJECT_ROOT
from analytics_pipeline.sources.store.xapi import tables_from_lrs

GRAPH = """
import json
from analytics_pipeline.definitions import defs
owner = {k.path[-1]: a.node_def.name for a in defs.assets for k in a.keys}
print(json.dumps(owner))
"""


def test_tables_supplied_by_the_lrs_under_each_configuration():
    assert tables_from_lrs("", "contract") == ()
    assert tables_from_lrs("http://lrs/xAPI/", "contract") == ("learning_events", "assessment_results")
    alone = tables_from_lrs("http://lrs/xAPI/", "lrs")
    assert {"users", "courses", "content_items", "enrollments", "deletions", "organizations"} <= set(alone)
    with pytest.raises(ValueError, match="XAPI_ROSTERS must be one of contract, lrs"):
        tables_from_lrs("http://lrs/xAPI/", "both")


@pytest.mark.parametrize("rosters", ["contract", "lrs"])
def test_the_graph_takes_the_lrs_tables_from_the_xapi_asset(rosters):
    env = {**os.environ, "XAPI_LRS_URL": "http://127.0.0.1:9/xAPI/", "XAPI_ROSTERS": rosters}
    done = subprocess.run([sys.executable, "-c", GRAPH], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    owner = json.loads(done.stdout.strip().splitlines()[-1])
    from_lrs = tables_from_lrs(env["XAPI_LRS_URL"], rosters)
    assert {t for t, node in owner.items() if node == "xapi_statements"} == set(from_lrs)
    assert owner["learner_velocity_analytics"] not in (None, "xapi_statements")  # downstream unchanged
    if rosters == "contract":
        assert owner["users"] == "users" and owner["deletions"] == "deletions"
