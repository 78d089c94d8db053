"""Dagster resources: the warehouse (PostgreSQL) connection and the HTTP sources' configuration.

The layers' own code knows nothing of Dagster: these resources hold the configuration and hand
the layers plain objects (an SQLAlchemy engine, an ``LmsClient``, an ``XapiClient``).
"""
from __future__ import annotations

import logging

import dagster as dg
from sqlalchemy.engine import Engine

from analytics_pipeline.settings import ENVIRONMENT, env
from analytics_pipeline.sources.client import LmsClient, RetryPolicy
from analytics_pipeline.sources.xapi_client import XapiClient
from analytics_pipeline.warehouse.engine import make_engine
from analytics_pipeline.warehouse.urls import redacted


class WarehouseResource(dg.ConfigurableResource):
    """The analytics warehouse. ``database_url`` comes from ``DATABASE_URL`` (the CLI sets it to
    the embedded server when the variable is unset)."""

    database_url: str

    def engine(self) -> Engine:
        return make_engine(self.database_url)

    def describe(self) -> str:
        return redacted(self.database_url)


def _from_env(name: str, cast=str):
    """``dg.EnvVar(name)`` when the variable differs from its documented default, else the default.

    (Dagster resolves an EnvVar at run time and fails when it is unset; the defaults of
    ``settings.ENVIRONMENT`` keep `make run` working without exporting every variable.)
    """
    default = ENVIRONMENT[name][0]
    if env(name) == default:
        return cast(default) if default else default
    return dg.EnvVar.int(name) if cast is int else dg.EnvVar(name)


class HttpSourceResource(dg.ConfigurableResource):
    """Timeouts and retry budget of an HTTP source (the LMS API, an xAPI LRS)."""

    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: int = 30
    max_retry_seconds: float = 120.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retry_seconds, self.backoff_base_seconds, self.backoff_max_seconds)


class LmsApiResource(HttpSourceResource):
    """The LMS read API (base URL, bearer token, paging, timeouts and retry budget)."""

    base_url: str
    token: str
    page_size: int = 5000

    @classmethod
    def from_environment(cls) -> LmsApiResource:
        """Configured from LMS_API_URL, LMS_API_TOKEN, LMS_PAGE_SIZE, LMS_TIMEOUT_SECONDS, LMS_MAX_RETRY_SECONDS."""
        return cls(
            base_url=dg.EnvVar("LMS_API_URL"),
            token=_from_env("LMS_API_TOKEN"),
            page_size=_from_env("LMS_PAGE_SIZE", int),
            read_timeout_seconds=_from_env("LMS_TIMEOUT_SECONDS", int),
            max_retry_seconds=float(env("LMS_MAX_RETRY_SECONDS")),
        )

    def client(self, logger: logging.Logger | None = None) -> LmsClient:
        return LmsClient(
            self.base_url,
            self.token,
            page_size=self.page_size,
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            retry=self.retry_policy(),
            logger=logger,
        )

    def describe(self) -> str:
        """Where the resource points, for metadata (never the token)."""
        return f"{self.base_url} (page size {self.page_size})"


class XapiLrsResource(HttpSourceResource):
    """An xAPI Learning Record Store (base URL, basic-auth credentials, paging, retry budget)."""

    base_url: str
    username: str
    password: str
    version: str = "1.0.3"
    limit: int = 500
    platform_url: str = ""
    default_passing_score: float = 60.0
    since_overlap_seconds: float = 0.0
    rosters: str = "contract"
    read_timeout_seconds: int = 60

    @classmethod
    def from_environment(cls) -> XapiLrsResource:
        """Configured from the XAPI_* settings (and LMS_TIMEOUT_SECONDS, LMS_MAX_RETRY_SECONDS)."""
        return cls(
            base_url=env("XAPI_LRS_URL"), username=env("XAPI_LRS_USERNAME"), password=_from_env("XAPI_LRS_PASSWORD"),
            version=env("XAPI_VERSION"), limit=int(env("XAPI_PAGE_SIZE")), platform_url=env("XAPI_PLATFORM_URL"),
            default_passing_score=float(env("XAPI_DEFAULT_PASSING_SCORE")),
            since_overlap_seconds=float(env("XAPI_SINCE_OVERLAP_SECONDS")), rosters=env("XAPI_ROSTERS"),
            read_timeout_seconds=int(env("LMS_TIMEOUT_SECONDS")), max_retry_seconds=float(env("LMS_MAX_RETRY_SECONDS")),
        )

    def client(self, logger: logging.Logger | None = None) -> XapiClient:
        return XapiClient(
            self.base_url, self.username, self.password, version=self.version, limit=self.limit,
            connect_timeout_seconds=self.connect_timeout_seconds, read_timeout_seconds=self.read_timeout_seconds,
            retry=self.retry_policy(), logger=logger,
        )

    def describe(self) -> str:
        """Where the resource points, for metadata (never the password)."""
        return f"{self.base_url} (xAPI {self.version}, user {self.username}, rosters from {self.rosters})"
