"""HTTP server of the sandbox LMS: the contract's 11 GET endpoints over a ``Platform``.

One generic path serves every resource (``GET /v1/<resource>``): bearer auth (401),
``limit`` (1..5000, default 1000), opaque ``cursor`` and ``updated_since`` (400 when
malformed), rows ordered by (updated_at, id), body ``{"data": [...], "next_cursor": ...}``.
The cursor is base64url of ``v1:<resource>:<sort key of the last row>``; it never expires.

Admin endpoints (same token): ``POST /_sandbox/advance?days=N``, ``GET /_sandbox/state``,
``POST /_sandbox/faults`` (JSON body of ``FaultConfig`` flags; replaces the current set).
``GET /healthz`` needs no token. Faults apply to ``/v1/`` endpoints only.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

from analytics_pipeline.sandbox.faults import (FaultConfig, FaultInjector, add_extra_fields,
                                               corrupt_rows)
from analytics_pipeline.sandbox.generator import Platform
from analytics_pipeline.sandbox.tables import KEY_SHIFT

DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000


class BadRequest(ValueError):
    """A malformed query parameter (answered 400)."""


def encode_cursor(resource: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{resource}:{key}".encode()).decode().rstrip("=")


def decode_cursor(resource: str, cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, owner, key = raw.split(":")
        if version != "v1" or owner != resource:
            raise ValueError(raw)
        value = int(key)
        if not -1 <= value < 2**62:
            raise ValueError(raw)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("bad cursor") from exc


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be within 1..{MAX_LIMIT}")
    return limit


def parse_since(text: str) -> int:
    """RFC 3339 -> the sort key below which rows are excluded (updated_at <= since)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("t", "T"))
    except ValueError as exc:
        raise BadRequest("updated_since must be an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        seconds = math.floor(moment.timestamp())
    except (OverflowError, OSError, ValueError) as exc:
        raise BadRequest("updated_since out of range") from exc
    return max(-1, min(seconds * KEY_SHIFT + KEY_SHIFT - 1, 2**62))


class SandboxServer(ThreadingHTTPServer):
    """Holds the platform, token and fault injector shared by the request handlers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, platform: Platform, token: str, faults: FaultConfig):
        super().__init__(address, SandboxHandler)
        self.platform, self.token = platform, token
        self.faults = FaultInjector(faults)
        self.clock_lock = threading.Lock()


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def log_message(self, format, *args):  # noqa: A002 - silence access logs
        pass

    # ---- plumbing -------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict | None = None,
              declared_length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        self._send(status, orjson.dumps({"error": message}), headers)

    def _authorized(self) -> bool:
        expected = f"Bearer {self.server.token}".encode()
        given = self.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, expected)

    def _query(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        return parts.path.rstrip("/") or "/", {k: v[0] for k, v in parse_qs(parts.query).items()}

    def _drain_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # ---- routing --------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        path, query = self._query()
        if path == "/healthz":
            return self._send(200, b'{"status":"ok"}')
        if not self._authorized():
            return self._error(401, "missing or invalid bearer token")
        if path == "/_sandbox/state":
            return self._send(200, orjson.dumps(self.server.platform.state()))
        if path.startswith("/v1/") and path[4:] in self.server.platform.tables:
            return self._serve_page(path[4:], query)
        return self._error(404, "no such endpoint")

    def do_POST(self) -> None:  # noqa: N802
        path, query = self._query()
        body = self._drain_body()
        if not self._authorized():
            return self._error(401, "missing or invalid bearer token")
        try:
            if path == "/_sandbox/advance":
                days = float(query.get("days", "1"))
                if not 0 <= days < 10_000:
                    raise ValueError("days must be within 0..10000")
                with self.server.clock_lock:
                    self.server.platform.advance(days)
                return self._send(200, orjson.dumps(self.server.platform.state()))
            if path == "/_sandbox/faults":
                config = FaultConfig.from_mapping(orjson.loads(body or b"{}"))
                self.server.faults.configure(config)
                return self._send(200, orjson.dumps(config.__dict__))
        except (ValueError, TypeError) as exc:
            return self._error(400, str(exc))
        return self._error(404, "no such endpoint")

    # ---- the one table-serving path ---------------------------------------------------
    def _serve_page(self, resource: str, query: dict[str, str]) -> None:
        faults = self.server.faults
        config, decision = faults.config, faults.decide()
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000)
        if decision.drop:
            self.close_connection = True
            return
        if decision.rate_limited:
            return self._error(429, "rate limited", {"Retry-After": str(config.retry_after)})
        if decision.error:
            return self._error(503, "transient upstream error")
        try:
            limit = parse_limit(query.get("limit"))
            after = -1
            if "cursor" in query:
                after = decode_cursor(resource, query["cursor"])
            if "updated_since" in query:
                after = max(after, parse_since(query["updated_since"]))
        except BadRequest as exc:
            return self._error(400, str(exc))
        table, now = self.server.platform.tables[resource], self.server.platform.now
        idx, more = table.select(now, after, limit)
        rows = table.rows(idx)
        next_cursor = encode_cursor(resource, int(table.sort_key[idx[-1]])) if more else None
        if config.loop_cursor and next_cursor and "cursor" in query:
            next_cursor = encode_cursor(resource, -1)
        if config.extra_fields:
            add_extra_fields(rows)
        corrupt_rows(rows, table.fields, config.invalid_row_rate, decision.row_seed)
        body = orjson.dumps({"data": rows, "next_cursor": next_cursor})
        if decision.malformed:
            return self._send(200, body[: len(body) // 2] + b"<<not json")
        if decision.truncate:
            self._send(200, body[: len(body) // 2], declared_length=len(body))
            self.close_connection = True
            return
        self._send(200, body)


def make_server(platform: Platform, token: str, host: str = "127.0.0.1", port: int = 0,
                faults: FaultConfig | None = None) -> SandboxServer:
    """Bind a server (port 0 picks a free one); call ``serve_forever`` to run it."""
    return SandboxServer((host, port), platform, token, faults or FaultConfig())
