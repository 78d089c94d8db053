"""The xAPI LRS client: ``GET /xAPI/statements`` with ``since``, ``limit``, ``ascending``, and ``more``.

As the xAPI specification (IEEE 9274.1.1, "Statement Resource") says: ``<endpoint>statements``
(``XAPI_LRS_URL`` is the LRS's xAPI endpoint; a bare host means ``<host>/xAPI/``), HTTP basic
auth, the ``X-Experience-API-Version`` header on every request, a ``StatementResult`` body
``{"statements": [...], "more": "<IRL or empty>"}``; the ``more`` IRL (a path from the host's
root, as the spec and Ralph have it, or a full URL) is followed as given until it is empty.

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

import orjson

from analytics_pipeline.sources.client import PooledClient, RetryPolicy, redact
from analytics_pipeline.sources.errors import (
    CursorLoopError,
    SourceError,
    TransientSourceError,
)

log = logging.getLogger(__name__)


@dataclass
class StatementPage:
    """One ``StatementResult``: its statements (parsed), the ``more`` IRL, its size."""

    number: int
    statements: list = field(repr=False)
    more: str | None
    nbytes: int

    def __len__(self) -> int:
        return len(self.statements)


class XapiClient(PooledClient):
    """HTTP access to an LRS's statements (use as a context manager, or call :meth:`close`)."""

    refused = "the LRS refused the credentials"
    credentials_hint = "Check XAPI_LRS_USERNAME and XAPI_LRS_PASSWORD (and that the account may read statements)"

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
        super().__init__(password, connect_timeout_seconds, read_timeout_seconds, retry, logger, pool_maxsize=4)
        # The xAPI endpoint (the base "statements" hangs on), as LRSs advertise it; a bare host
        # means Ralph's and Learning Locker's layout, <host>/xAPI/.
        endpoint = base_url.rstrip("/") + "/"
        if urlsplit(endpoint).path == "/":
            endpoint += "xAPI/"
        self.base_url = endpoint
        self.statements_url = urljoin(endpoint, "statements")
        self.limit = limit
        self.session.auth = (username, password)
        self.session.headers.update({"X-Experience-API-Version": version, "Accept": "application/json"})
        self._get = self.with_retries(self._get_once)

    def _get_once(self, url: str, params: dict | None) -> StatementPage:
        where = urlsplit(url).path
        response, body = self.fetch(url, params, where)
        if response.status_code != 200:
            detail = redact(body[:300].decode("utf-8", "replace"), self._secret)
            raise SourceError(f"{where}: HTTP {response.status_code}: {detail}")
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
        return self._get(url, params)

    def pages(self, since: str | None = None) -> Iterator[StatementPage]:
        """Every page of statements stored after ``since`` (oldest first as the LRS orders them)."""
        params: dict | None = {"limit": self.limit, "ascending": "true"}
        if since:
            params["since"] = since
        url = self.statements_url
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
                    f"{urlsplit(self.statements_url).path}: the LRS returned a `more` link already followed on page {number} "
                    "(a pagination loop); stopped instead of reading forever."
                )
            seen.add(page.more)
            # `more`: a path from the host's root (the spec; Ralph: "/xAPI/statements?..."), or a full IRL
            url, params = urljoin(self.base_url, page.more), None
