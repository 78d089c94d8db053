"""Great Expectations, imported with its usage analytics off (GX reads ``GX_ANALYTICS_ENABLED``
when it is imported). The multiprocess executor's forkserver preloads this module beside the
code location (orchestration/executors.py), so the steps that validate a snapshot do not each
pay GX's import (~2.4 s on an idle core, 8 s at load 3); everything else imports GX lazily
through :mod:`analytics_pipeline.quality.validation`. Importing it starts no thread and opens no
connection (tests/scaling/test_executors.py)."""
import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import great_expectations.expectations  # noqa: E402,F401

__all__ = ["gx"]
