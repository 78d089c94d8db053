"""The LMS read API client: a pooled ``requests.Session``, bounded retries, cursor pagination.

``LmsClient`` does the HTTP work (its Dagster resource, ``LmsApiResource``, is in ``resources.py``):

- connect and read timeouts on every request;
- transient failures — 5xx, 429, dropped or refused connections, timeouts, bodies cut short
  or not JSON — are retried by ``backoff`` with exponential waits and full jitter; on 429 the
  wait is at least the server's ``Retry-After``; the total time spent retrying one request is
  bounded by ``max_retry_seconds`` (then :class:`RetriesExhaustedError` names the endpoint and
  the last cause);
- 401/403 raise :class:`AuthenticationError` at once (no retries); other 4xx raise
  :class:`SourceError`;
- pagination follows ``next_cursor`` and stops with :class:`CursorLoopError` when a cursor
  comes back that was already followed in the same pagination;
- **read-ahead**: as soon as a page's body has arrived, the next page's GET is started in a
  helper thread with the cursor found at the end of the body (a cheap scan of its last bytes),
  while this page is decoded; the pagination then takes that response instead of sending the
  request itself — only when the decoded ``next_cursor`` is exactly that cursor (else the
  response is dropped and the request sent again). A read-ahead failure is that request's
  failure (classified and retried as usual). One request is in flight at a time; decoding a
  page no longer delays the next page's transfer (issue 18; docs/scaling.md "Extraction +
  load vs the COPY limit").

The token lives only in the session's ``Authorization`` header; every message passes through
:func:`redact`, and the resource never puts it in logs or metadata.
"""
from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import backoff
import orjson
import pyarrow as pa
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from analytics_pipeline.sources.columnar import decode_page
from analytics_pipeline.sources.errors import (
    AuthenticationError,
    CursorLoopError,
    RetriesExhaustedError,
    SourceError,
    TransientSourceError,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 5000
REDACTED = "***"
# the cursor at the very end of a page body (no escapes: anything else is not read ahead)
_TAIL_CURSOR = re.compile(rb'"next_cursor"\s*:\s*"([^"\\]{1,512})"\s*}\s*$')
TAIL_BYTES = 1024


@dataclass
class Page:
    """One page of a list endpoint.

    ``columns`` holds the rows decoded column-wise when the fast path applies
    (``sources/columnar.py``); ``rows`` parses ``body`` with orjson on first use (the row path,
    and the exact payload of quarantined rows).
    """

    endpoint: str
    number: int
    next_cursor: str | None
    nbytes: int
    body: bytes = field(default=b"", repr=False)
    columns: pa.Table | None = field(default=None, repr=False)
    _rows: list[dict] | None = field(default=None, repr=False)

    @property
    def rows(self) -> list[dict]:
        if self._rows is None:
            self._rows = parse_body(self.endpoint, self.body)["data"]
        return self._rows

    def __len__(self) -> int:
        return self.columns.num_rows if self.columns is not None else len(self.rows)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts and how long to keep trying one request."""

    max_retry_seconds: float = 120.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    def waits(self) -> Iterator[float | None]:
        """``backoff`` wait generator: full-jitter exponential, at least the server's Retry-After.

        ``backoff`` primes the generator with ``send(None)`` and then sends each exception.
        """
        attempt = 0
        error = yield None
        while True:
            ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2**attempt)
            wait = random.uniform(0, ceiling)
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                wait = max(wait, retry_after)
            attempt += 1
            error = yield wait


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced (no-op for an empty secret)."""
    return text.replace(secret, REDACTED) if secret else text


def parse_body(endpoint: str, body: bytes):
    """The JSON body, by orjson; by the standard library when orjson refuses a lone surrogate escape
    (``"\\ud800"``) or NaN/Infinity, so those rows reach validation and the quarantine instead of failing
    the page. Not JSON for either: :class:`TransientSourceError` (retried)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(body)
        except ValueError:
            raise TransientSourceError(f"/v1/{endpoint}: the body is not valid JSON ({exc}; {len(body)} bytes)") from None


def _retry_after_seconds(response: requests.Response) -> float | None:
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        return float(Retry().parse_retry_after(header))
    except Exception:
        return None


class PooledClient:
    """A pooled ``requests.Session`` whose GETs are classified and retried under one ``RetryPolicy``.

    Shared by the LMS API client and the xAPI client (``xapi_client.py``). Subclasses set
    ``refused`` and ``credentials_hint`` (the 401/403 message) and wrap their one-request method
    with :meth:`with_retries`.
    """

    refused = "the server refused the credentials"
    credentials_hint = "Check the credentials"

    def __init__(self, secret: str, connect_timeout_seconds: float, read_timeout_seconds: float, retry: RetryPolicy,
                 logger: logging.Logger | None, pool_maxsize: int = 8):
        self.timeout = (connect_timeout_seconds, read_timeout_seconds)
        self.retry = retry
        self.log = logger or log
        self._secret = secret
        self.session = requests.Session()
        # No hidden retries in urllib3: one policy (below) sees every failure and bounds the total time.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.attempts = 0
        self.retries = 0

    def with_retries(self, function):
        """``function`` retried on :class:`TransientSourceError` within the retry time budget, then
        :class:`RetriesExhaustedError` (naming the last cause)."""
        retried = backoff.on_exception(
            self.retry.waits,
            TransientSourceError,
            max_time=lambda: self.retry.max_retry_seconds,
            jitter=None,
            on_backoff=self._log_retry,
            logger=None,
        )(function)

        def call(*args):
            try:
                return retried(*args)
            except TransientSourceError as exc:
                raise RetriesExhaustedError(
                    f"{exc} — still failing after retrying for {self.retry.max_retry_seconds:g} s (LMS_MAX_RETRY_SECONDS)"
                ) from None

        return call

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def _log_retry(self, details: dict) -> None:
        self.retries += 1
        self.log.warning(
            "retrying %s in %.2f s (attempt %d, %.1f s spent): %s",
            details["args"][0], details["wait"], details["tries"], details["elapsed"], details["exception"],
        )

    def fetch(self, url: str, params: dict | None, where: str) -> tuple[requests.Response, bytes]:
        """One GET: (response, body), or a classified error (transient: dropped, cut, 429, 5xx)."""
        self.attempts += 1
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
            body = response.content  # a body cut short raises here (ChunkedEncodingError / ConnectionError)
        except requests.RequestException as exc:
            raise TransientSourceError(f"{where}: {redact(f'{type(exc).__name__}: {exc}', self._secret)}") from None
        status = response.status_code
        if status in (401, 403):
            raise AuthenticationError(f"{where}: {self.refused} (HTTP {status}). {self.credentials_hint}; not retried.")
        if status == 429:
            raise TransientSourceError(f"{where}: rate limited (HTTP 429)", _retry_after_seconds(response))
        if status >= 500:
            raise TransientSourceError(f"{where}: server error HTTP {status}")
        return response, body


class LmsClient(PooledClient):
    """HTTP access to the LMS list endpoints (use as a context manager, or call :meth:`close`)."""

    refused = "the LMS API refused the token"
    credentials_hint = "Check LMS_API_TOKEN"

    def __init__(
        self,
        base_url: str,
        token: str,
        page_size: int = 1000,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        logger: logging.Logger | None = None,
    ):
        if not base_url:
            raise SourceError("The LMS API URL is not set (LMS_API_URL).")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SourceError(f"The page size must be between 1 and {MAX_PAGE_SIZE}, not {page_size} (LMS_PAGE_SIZE).")
        super().__init__(token, connect_timeout_seconds, read_timeout_seconds, retry, logger)
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self._token = token
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self._get_page = self.with_retries(self._get_page_once)
        self._reader: ThreadPoolExecutor | None = None
        self._ahead: tuple[tuple, Future] | None = None  # (endpoint and params, the GET in flight)

    def close(self) -> None:
        self._take_ahead(None)
        if self._reader is not None:
            self._reader.shutdown(wait=True)
        super().close()

    def _download(self, endpoint: str, params: dict) -> tuple[requests.Response, bytes]:
        """The GET of ``params``: the read-ahead one when it is for exactly these params, else sent now."""
        ahead = self._take_ahead((endpoint, tuple(sorted(params.items()))))
        if ahead is not None:
            return ahead.result()  # its error is this attempt's error (classified, retried)
        return self.fetch(f"{self.base_url}/v1/{endpoint}", params, f"/v1/{endpoint}")

    def _take_ahead(self, key: tuple | None) -> Future | None:
        """The read-ahead GET when it is for ``key``; another one is waited for and dropped."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if ahead[0] == key:
            return ahead[1]
        ahead[1].exception()  # one request at a time on the session: let it finish, drop it
        return None

    def _read_ahead(self, endpoint: str, params: dict, body: bytes, followed) -> None:
        """Start the GET of the page the end of ``body`` names, unless its cursor was followed already."""
        match = _TAIL_CURSOR.search(body[-TAIL_BYTES:])
        if match is None:
            return
        cursor = match.group(1).decode("utf-8", "replace")
        if cursor in followed:
            return
        following = {**params, "cursor": cursor}
        if self._reader is None:
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lms-read-ahead")
        url = f"{self.base_url}/v1/{endpoint}"
        self._ahead = ((endpoint, tuple(sorted(following.items()))),
                       self._reader.submit(self.fetch, url, following, f"/v1/{endpoint}"))

    def _get_page_once(self, endpoint: str, params: dict, followed: frozenset | set = frozenset()) -> Page:
        """One GET (or the one read ahead); returns the decoded page, or raises a classified error.

        The next page's GET starts (:meth:`_read_ahead`) before this body is decoded.
        """
        response, body = self._download(endpoint, params)
        status = response.status_code
        if status != 200:
            detail = redact(body[:200].decode("utf-8", "replace"), self._token)
            raise SourceError(f"/v1/{endpoint}: HTTP {status} for {redact(str(params), self._token)}: {detail}")
        if followed is not None:
            self._read_ahead(endpoint, params, body, followed)
        decoded = decode_page(endpoint, body)
        if decoded is not None:
            return Page(endpoint, 0, decoded[1], len(body), body, columns=decoded[0])
        page = parse_body(endpoint, body)
        if not isinstance(page, dict) or not isinstance(page.get("data"), list) or "next_cursor" not in page:
            raise TransientSourceError(f"/v1/{endpoint}: the body is not a page (expected data and next_cursor)")
        return Page(endpoint, 0, page["next_cursor"], len(body), _rows=page["data"])

    def get_page(self, endpoint: str, params: dict, followed: frozenset | set | None = None) -> Page:
        """One page with retries; :class:`RetriesExhaustedError` when the retry budget is spent.

        ``followed``: the cursors this pagination followed so far; given, the next page is read
        ahead (:meth:`_read_ahead`) unless its cursor is one of them."""
        return self._get_page(endpoint, params, followed)

    def pages(self, endpoint: str, updated_since: str | None = None) -> Iterator[Page]:
        """Every page of ``/v1/<endpoint>`` (rows with ``updated_at`` strictly after ``updated_since``)."""
        params: dict = {"limit": self.page_size}
        if updated_since:
            params["updated_since"] = updated_since
        seen: set[str] = set()
        number = 0
        while True:
            page = self.get_page(endpoint, params, seen)
            number += 1
            page.number, cursor = number, page.next_cursor
            yield page
            if cursor is None:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise CursorLoopError(
                    f"/v1/{endpoint}: the API returned a cursor already followed on page {number} "
                    "(a pagination loop); stopped instead of reading forever."
                )
            seen.add(cursor)
            params = {**params, "cursor": cursor}
