"""Schedules of the code location (analytics_pipeline/orchestration/schedules.py); their jobs
come from orchestration/jobs.py (JOBS, added by definitions.py)."""

import dagster as dg

from analytics_pipeline.orchestration.schedules import SCHEDULES

defs = dg.Definitions(schedules=SCHEDULES)
