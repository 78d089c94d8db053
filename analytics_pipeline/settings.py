"""Configuration in one place: every environment variable the project reads, with its default.

Nothing else in the package reads ``os.environ`` directly; import :data:`SETTINGS` or call
:func:`load_settings` (tests build their own).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
#: days the input-change log (learner_input_changes) is kept; a run older than this minus one day
#: is not carried from (the analytics' carry-forward, user_points' changed learners)
CHANGE_LOG_DAYS = 8

# name -> (default, description); the README's configuration table is generated from this.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("", "Warehouse PostgreSQL URL. Unset: the embedded PostgreSQL (pgserver) in .pgdata/."),
    "TEST_DATABASE_URL": ("", "PostgreSQL server the tests create their throw-away databases on. Unset: embedded."),
    "DAGSTER_PG_URL": ("", "Dagster's own storage (runs, events, schedules). Unset: database `<warehouse database>_dagster` on the warehouse server (one instance per warehouse), via psycopg2."),
    "PGDATA_DIR": (".pgdata", "Data folder of the embedded PostgreSQL (relative to the project)."),
    "LMS_API_URL": ("", "Base URL of the LMS read API. Unset: `make run` starts the sandbox LMS server."),
    "LMS_API_TOKEN": ("sandbox-token", "Bearer token for the LMS API (never logged)."),
    "LMS_PAGE_SIZE": ("5000", "Rows per API page (1-5000)."),
    "LMS_TIMEOUT_SECONDS": ("30", "Read timeout per API request."),
    "LMS_MAX_RETRY_SECONDS": ("120", "Upper bound on the total time spent retrying one request."),
    "XAPI_LRS_URL": ("", "xAPI endpoint of a Learning Record Store (e.g. Ralph's `http://host:8100/xAPI/`; a bare host means `<host>/xAPI/`). Set: learning events and assessment results come from its statements (docs/sources.md)."),
    "XAPI_LRS_USERNAME": ("", "HTTP basic-auth user of the LRS."),
    "XAPI_LRS_PASSWORD": ("", "HTTP basic-auth password of the LRS (never logged)."),
    "XAPI_VERSION": ("1.0.3", "X-Experience-API-Version header sent to the LRS."),
    "XAPI_PAGE_SIZE": ("500", "`limit` of each GET /xAPI/statements (the LRS may return fewer; Ralph: 100)."),
    "XAPI_PLATFORM_URL": ("", "The platform's account homePage and activity IRI base: account names and IRI last segments under it are the contract's user, course and content ids."),
    "XAPI_ROSTERS": ("contract", "`contract`: users, courses, content, enrollments, skills and preferences from the LMS API; `lrs`: the LRS alone (users, courses, content and enrollments from the statements)."),
    "XAPI_DEFAULT_PASSING_SCORE": ("60", "Passing score (0-100) of an assessment statement without the cmi5 masteryscore extension."),
    "XAPI_SINCE_OVERLAP_SECONDS": ("0", "`since` is sent this much before the watermark (for LRSs that filter `since` on `timestamp`, as Ralph does); statements stored at or before the watermark are dropped client-side."),
    "SANDBOX_PORT": ("8400", "Port of the sandbox LMS server started by `make run`."),
    "SANDBOX_PROFILE": ("XS", "Scale of the sandbox data started by `make run` (XS, S, M, L)."),
    "SANDBOX_SEED": ("42", "Seed of the sandbox's synthetic data."),
    "SANDBOX_START": ("", "Day 0 of the sandbox's simulated timeline (YYYY-MM-DD). Unset: ~90 days before today, so its clock is current."),
    "PARTITIONS_START": ("", "First daily partition (YYYY-MM-DD): the first day of the source's data. Unset: `SANDBOX_START`, else 90 days before today (the sandbox's day 0; 366 with `SANDBOX_REPLAY`). Set it in production."),
    "SANDBOX_REPLAY": ("", "When set, `make run` serves this recorded platform (an OULAD extract, e.g. `reference/data/oulad-2013`) instead of synthetic data."),
    "SANDBOX_REPLAY_AT": ("2013J:0.25", "The replay's instant: `<presentation>:<fraction of its run>` or a date (YYYY-MM-DD)."),
    "QUARANTINE_MAX_SHARE": ("0.01", "Share of quarantined rows above which the extraction check fails."),
    "K_ANONYMITY": ("10", "Smallest published group in peer comparison and skill demand (never below 5)."),
    "SCHEDULE_TIMEZONE": ("UTC", "Time zone of the nightly schedule."),
    "NIGHTLY_CRON": ("0 2 * * *", "Cron of the nightly job."),
    "ALERT_WEBHOOK_URL": ("", "When set, run failures are posted there."),
    "DAGSTER_UI_URL": ("http://127.0.0.1:3000", "Base URL of the Dagster UI, for the run links in alerts."),
    "DAGSTER_EXECUTOR": ("multiprocess", "in_process, multiprocess, celery or k8s (run config `execution: config: executor:` overrides it). Unset, `make run` runs a platform of at most SMALL_PLATFORM_LEARNERS learners in_process."),
    "DAGSTER_START_METHOD": ("forkserver", "How the multiprocess executor starts each step's process (unless the run config sets `start_method`): forkserver — one server process imports the code location once and every step forks from it (~0.1 s a step); spawn — a new interpreter per step, importing Dagster, pandas and the code location (2-4 s a step at L, measured in docs/scaling.md)."),
    "SMALL_PLATFORM_LEARNERS": ("5000", "`make run` without DAGSTER_EXECUTOR: at most this many learners (the sandbox's count, else the warehouse's) run in one process (in_process); more, or unknown, multiprocess."),
    "INDEPENDENT_CHECK_TIMEOUT_SECONDS": ("60", "The nightly's independent checks: a check statement still running after this many seconds is cancelled and the check fails (WARN) naming the timeout, so an audit never holds up the nightly. 0: no limit. The CLI (python -m analytics_pipeline.warehouse.independent_check) has no limit."),
    "INDEPENDENT_CHECK_LEARNERS": ("5000", "The nightly's independent checks compare every learner up to this many learners (users); above, a deterministic hash sample of about this many (1 in ceil(learners / this)), both sides restricted alike. 0: always every learner. The group checks (peer comparison, skill demand, leaderboards) always compare every group."),
    "CELERY_BROKER_URL": ("pyamqp://guest:guest@127.0.0.1:5672//", "Broker of the Celery executor and its workers (RabbitMQ `pyamqp://...` or Redis `redis://host:6379/0`)."),
    "CELERY_RESULT_BACKEND": ("rpc://", "Result backend of the Celery executor (`rpc://` with RabbitMQ; the broker URL with Redis)."),
    "RUN_LOGS_DIR": ("logs", "Folder of the full event log of each `make run` (relative to the project; git-ignored)."),
    "PIPELINE_VERBOSE": ("", "1: `make run` prints Dagster's full event stream (like `analytics-pipeline run --verbose`)."),
    "REPORTS_DIR": ("reports", "Folder of the analyst report (HTML) written after each nightly run (relative to the project; git-ignored)."),
}


def env(name: str) -> str:
    """The value of a documented environment variable, or its default."""
    default, _ = ENVIRONMENT[name]
    return os.environ.get(name, default)


def env_is_set(name: str) -> bool:
    """Whether a documented variable is set in the environment (not just defaulted)."""
    if name not in ENVIRONMENT:
        raise KeyError(name)
    return bool(os.environ.get(name))


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: env("DATABASE_URL"))
    dagster_pg_url: str = field(default_factory=lambda: env("DAGSTER_PG_URL"))
    pgdata_dir: Path = field(default_factory=lambda: PROJECT_ROOT / env("PGDATA_DIR"))
    lms_api_url: str = field(default_factory=lambda: env("LMS_API_URL"))
    lms_api_token: str = field(default_factory=lambda: env("LMS_API_TOKEN"))
    lms_page_size: int = field(default_factory=lambda: int(env("LMS_PAGE_SIZE")))
    xapi_lrs_url: str = field(default_factory=lambda: env("XAPI_LRS_URL"))
    xapi_rosters: str = field(default_factory=lambda: env("XAPI_ROSTERS"))
    sandbox_port: int = field(default_factory=lambda: int(env("SANDBOX_PORT")))
    sandbox_profile: str = field(default_factory=lambda: env("SANDBOX_PROFILE"))
    sandbox_seed: int = field(default_factory=lambda: int(env("SANDBOX_SEED")))
    sandbox_replay: str = field(default_factory=lambda: env("SANDBOX_REPLAY"))
    sandbox_replay_at: str = field(default_factory=lambda: env("SANDBOX_REPLAY_AT"))
    k_anonymity: int = field(default_factory=lambda: max(5, int(env("K_ANONYMITY"))))
    reports_dir: Path = field(default_factory=lambda: PROJECT_ROOT / env("REPORTS_DIR"))
    run_logs_dir: Path = field(default_factory=lambda: PROJECT_ROOT / env("RUN_LOGS_DIR"))
    verbose: bool = field(default_factory=lambda: env("PIPELINE_VERBOSE").strip().lower() in ("1", "true", "yes"))
    small_platform_learners: int = field(default_factory=lambda: int(env("SMALL_PLATFORM_LEARNERS")))
    independent_check_learners: int = field(default_factory=lambda: int(env("INDEPENDENT_CHECK_LEARNERS")))
    independent_check_timeout_seconds: float = field(
        default_factory=lambda: float(env("INDEPENDENT_CHECK_TIMEOUT_SECONDS")))


def load_settings() -> Settings:
    return Settings()


def reference_file(relative: str) -> Path:
    """A file the project carries under ``reference/`` (its own copy of the API contract, the
    seed design document and the OULAD 2013 extract), so a clone anywhere runs its tests."""
    path = PROJECT_ROOT / "reference" / relative
    if not path.exists():
        raise FileNotFoundError(f"reference/{relative} is missing from {PROJECT_ROOT}")
    return path
