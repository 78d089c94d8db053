"""The xAPI LRS client: ``GET /xAPI/statements`` with ``since``, ``limit``, ``ascending``, and ``more``.

As the xAPI specification (IEEE 9274.1.1, "Statement Resource") says: HTTP basic auth, the
``X-Experience-API-Version`` header on every request, a ``StatementResult`` body
``{"statements": [...], "more": "<IRL or empty>"}``; the ``more`` IRL (relative to the LRS's
base, as Ralph answers, or absolute) is followed as given until it is empty.

Retries as for the contract's client (``client.RetryPolicy``, ``backoff``, the same time
budget): 5xx, 429, dropped connections, timeouts, bodies cut short or not a StatementResult
are retried; 401/403 raise :class:`AuthenticationError` at once with what to check (no retry
storm); other 4xx raise :class:`SourceError`. A ``more`` already followed stops with
:class:`CursorLoopError`. The password lives only in the session's auth and never in a message.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import backoff
import dagster as dg
import orjson
import requests
from requests.adapters import HTTPAdapter

from analytics_pipeline.settings import env
from analytics_pipeline.sources.client import RetryPolicy, _from_env, _retry_after_seconds, redact
from analytics_pipeline.sources.errors import (
    AuthenticationError,
    CursorLoopError,
    RetriesExhaustedError,
    SourceError,
    TransientSourceError,
)

log = logging.getLogger(__name__)
STATEMENTS = "xAPI/statements"


@dataclass
class StatementPage:
    """One ``StatementResult``: its statements (parsed), the ``more`` IRL, its size."""

    number: int
    statements: list = field(repr=False)
    more: str | None
    nbytes: int

    def __len__(self) -> int:
        return len(self.statements)


class XapiClient:
    """HTTP access to an LRS's statements (use as a context manager, or call :meth:`close`)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        version: str = "1.0.3",
        limit: int = 500,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 60.0,
        retry: RetryPolicy = RetryPolicy(),
        logger: logging.Logger | None = None,
    ):
        if not base_url:
            raise SourceError("The LRS URL is not set (XAPI_LRS_URL).")
        # the base the xAPI resources hang on: ".../xAPI/statements" -> ".../"
        base = base_url.rstrip("/")
        for suffix in ("/statements", "/xAPI"):
            base = base.removesuffix(suffix)
        self.base_url = base + "/"
        self.limit = limit
        self.timeout = (connect_timeout_seconds, read_timeout_seconds)
        self.retry = retry
        self.log = logger or log
        self._password = password
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.auth = (username, password)
        self.session.headers.update({"X-Experience-API-Version": version, "Accept": "application/json"})
        self.attempts = 0
        self.retries = 0
        self._get = backoff.on_exception(
            self.retry.waits, TransientSourceError, max_time=lambda: self.retry.max_retry_seconds, jitter=None,
            on_backoff=self._log_retry, logger=None,
        )(self._get_once)

    def __enter__(self) -> XapiClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def _log_retry(self, details: dict) -> None:
        self.retries += 1
        self.log.warning("retrying %s in %.2f s (attempt %d, %.1f s spent): %s", details["args"][0], details["wait"],
                         details["tries"], details["elapsed"], details["exception"])

    def _get_once(self, url: str, params: dict | None) -> StatementPage:
        self.attempts += 1
        where = urlsplit(url).path
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
            body = response.content
        except requests.RequestException as exc:
            raise TransientSourceError(f"{where}: {redact(f'{type(exc).__name__}: {exc}', self._password)}") from None
        status = response.status_code
        if status in (401, 403):
            raise AuthenticationError(
                f"{where}: the LRS refused the credentials (HTTP {status}). Check XAPI_LRS_USERNAME and "
                "XAPI_LRS_PASSWORD (and that the account may read statements); not retried."
            )
        if status == 429:
            raise TransientSourceError(f"{where}: rate limited (HTTP 429)", _retry_after_seconds(response))
        if status >= 500:
            raise TransientSourceError(f"{where}: server error HTTP {status}")
        if status != 200:
            detail = redact(body[:300].decode("utf-8", "replace"), self._password)
            raise SourceError(f"{where}: HTTP {status}: {detail}")
        try:
            result = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise TransientSourceError(f"{where}: the body is not valid JSON ({exc}; {len(body)} bytes)") from None
        if not isinstance(result, dict) or not isinstance(result.get("statements"), list):
            raise TransientSourceError(f"{where}: the body is not a StatementResult (no statements list)")
        more = result.get("more")
        return StatementPage(0, result["statements"], more if isinstance(more, str) and more else None, len(body))

    def get(self, url: str, params: dict | None = None) -> StatementPage:
        """One page with retries; :class:`RetriesExhaustedError` when the retry budget is spent."""
        try:
            return self._get(url, params)
        except TransientSourceError as exc:
            raise RetriesExhaustedError(
                f"{exc} — still failing after retrying for {self.retry.max_retry_seconds:g} s (LMS_MAX_RETRY_SECONDS)"
            ) from None

    def pages(self, since: str | None = None) -> Iterator[StatementPage]:
        """Every page of statements stored after ``since`` (oldest first as the LRS orders them)."""
        params: dict | None = {"limit": self.limit, "ascending": "true"}
        if since:
            params["since"] = since
        url = urljoin(self.base_url, STATEMENTS)
        seen: set[str] = set()
        number = 0
        while True:
            page = self.get(url, params)
            number += 1
            page.number = number
            yield page
            if page.more is None:
                return
            if page.more in seen:
                raise CursorLoopError(
                    f"/{STATEMENTS}: the LRS returned a `more` link already followed on page {number} "
                    "(a pagination loop); stopped instead of reading forever."
                )
            seen.add(page.more)
            url, params = urljoin(self.base_url, page.more.lstrip("/")) if not urlsplit(page.more).scheme else page.more, None


class XapiLrsResource(dg.ConfigurableResource):
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
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: int = 60
    max_retry_seconds: float = 120.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

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
            retry=RetryPolicy(self.max_retry_seconds, self.backoff_base_seconds, self.backoff_max_seconds), logger=logger,
        )

    def describe(self) -> str:
        """Where the resource points, for metadata (never the password)."""
        return f"{self.base_url} (xAPI {self.version}, user {self.username}, rosters from {self.rosters})"
