"""Sandbox LMS: a real HTTP server implementing the LMS read API contract
(``reference/contracts/lms-api.openapi.yaml``) over deterministic synthetic data.

Knows only the contract: imports nothing from the pipeline's other layers.

- ``Platform(profile, seed)`` (``generator``): the synthetic platform and its clock;
- ``start_in_thread(...)`` / ``serve(...)`` (``runner``): run the server;
- ``cli.add_arguments`` / ``cli.run_from_args``: the ``sandbox`` sub-command.
"""
from analytics_pipeline.sandbox.faults import FaultConfig
from analytics_pipeline.sandbox.generator import Platform
from analytics_pipeline.sandbox.profiles import PROFILES, Profile, resolve_profile
from analytics_pipeline.sandbox.runner import SandboxHandle, serve, start_in_thread

__all__ = ["FaultConfig", "Platform", "PROFILES", "Profile", "resolve_profile", "SandboxHandle",
           "serve", "start_in_thread"]
