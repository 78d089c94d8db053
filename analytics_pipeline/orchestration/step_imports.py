"""What a step's process imports before its step starts, imported once by the forkserver.

A step of the multiprocess executor opens the Dagster instance (``DagsterInstance.from_ref``)
before anything else. The first opening in a process imports the instance's configured classes
and what they import: dagster-postgres, SQLAlchemy's reflection, Alembic, Rich, Pygments …,
~440 modules, 0.55 s of the 0.7 s a forked step took from ``STEP_WORKER_STARTING`` to
``STEP_STARTED`` (docs/scaling.md, "Step start-up: the instance's imports"). The executor's
forkserver imports this module beside the code location, so every fork inherits them.

It only imports: the configured classes are named by ``dagster.yaml`` (read, never built), so
no connection is opened and no thread started (tests/scaling/test_executors.py checks it). It
never fails the server: without ``DAGSTER_HOME`` or with a config it cannot read, a step imports
what it needs itself, as before.
"""
from __future__ import annotations

import importlib
import os

from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import ConfigurableClassData

# What a step's process uses around the instance besides the configured classes: the instance
# factory and its secrets loader (dotenv), the event log manager, the step's plan, psycopg2 (the
# storage's driver, imported on its first connection) and the file-system paths of the local
# artifact and compute-log storage (universal_pathlib, fsspec).
STEP_MODULES = (
    "dagster._core.instance.factory",
    "dagster._core.secrets.env_file",
    "dagster._core.execution.context_creation_job",
    "dagster._core.execution.api",
    "dagster._core.executor.child_process_executor",
    "psycopg2.extras",
    "upath.implementations.local",
    "fsspec.implementations.local",
)


def configured_modules(home: str | None) -> list[str]:
    """The modules of the classes ``home``'s dagster.yaml configures (storage, compute logs, run
    coordinator, launcher …); [] when there is no readable instance config."""
    if not home:
        return []
    try:
        ref = InstanceRef.from_dir(home)
    except Exception:  # noqa: BLE001 - a step reads the config itself and reports its error
        return []
    return sorted({value.module_name for value in ref if isinstance(value, ConfigurableClassData)})


def import_all(modules) -> list[str]:
    """Import ``modules``; return those imported (one that fails is left to the step)."""
    imported = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            continue
        imported.append(name)
    return imported


IMPORTED = import_all([*STEP_MODULES, *configured_modules(os.environ.get("DAGSTER_HOME"))])
