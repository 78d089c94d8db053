"""Deterministic fault injection for the sandbox's data endpoints.

``FaultConfig`` holds the flags; ``FaultInjector.decide()`` is called once per data request
and draws from ``random.Random(seed)`` in a fixed order (drop, error, truncate, malformed,
row seed), so a given sequence of requests always meets the same faults. Setting a new
config (``configure``) resets the random stream and the rate-limit burst counter.

Flags:
- ``latency_ms``: sleep before answering;
- ``error_rate``: share of 503 answers; ``rate_limit_burst``: the next N requests get 429
  with ``Retry-After: retry_after``;
- ``truncated_body_rate``: the body is cut short (Content-Length announces the full body);
- ``malformed_json_rate``: a complete response whose body is not valid JSON;
- ``drop_connection_rate``: the socket is closed without any response;
- ``extra_fields``: unknown fields added to every row;
- ``invalid_row_rate``: share of rows with a missing required field or a wrongly typed /
  out-of-range value;
- ``loop_cursor``: a page fetched with a cursor returns a cursor back to the first page.
"""
from __future__ import annotations

import dataclasses
import random
import threading

from analytics_pipeline.sandbox.tables import Field


@dataclasses.dataclass(frozen=True)
class FaultConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_burst: int = 0
    retry_after: int = 1
    truncated_body_rate: float = 0.0
    malformed_json_rate: float = 0.0
    drop_connection_rate: float = 0.0
    extra_fields: bool = False
    invalid_row_rate: float = 0.0
    loop_cursor: bool = False
    seed: int = 0

    @classmethod
    def from_mapping(cls, values: dict) -> "FaultConfig":
        """Build from a dict (e.g. a JSON body); unknown keys raise ValueError."""
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown fault flags: {sorted(unknown)}")
        casts = {"float": float, "int": int, "bool": bool}
        return cls(**{k: casts[names[k]](v) for k, v in values.items() if v is not None})


@dataclasses.dataclass(frozen=True)
class Decision:
    """Faults chosen for one request."""

    drop: bool = False
    rate_limited: bool = False
    error: bool = False
    truncate: bool = False
    malformed: bool = False
    row_seed: int = 0


class FaultInjector:
    """Thread-safe, seeded decisions for each data request."""

    def __init__(self, config: FaultConfig | None = None):
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._burst_left = config.rate_limit_burst

    def decide(self) -> Decision:
        with self._lock:
            c, r = self.config, self._rng
            draws = [r.random() for _ in range(4)]
            row_seed = r.getrandbits(32)
            limited = self._burst_left > 0
            self._burst_left -= int(limited)
        return Decision(drop=draws[0] < c.drop_connection_rate, rate_limited=limited,
                        error=draws[1] < c.error_rate, truncate=draws[2] < c.truncated_body_rate,
                        malformed=draws[3] < c.malformed_json_rate, row_seed=row_seed)


def corrupt_rows(rows: list[dict], fields: list[Field], rate: float, seed: int) -> int:
    """Damage about ``rate`` of the rows in place; returns how many were damaged."""
    if rate <= 0 or not rows:
        return 0
    rng = random.Random(seed)
    required = [f.name for f in fields if f.required]
    numeric = [f.name for f in fields if f.kind in ("num", "pct")]
    bounded = [f.name for f in fields if f.kind == "pct"]
    stamps = [f.name for f in fields if f.kind == "ts"]
    damaged = 0
    for row in rows:
        if rng.random() >= rate:
            continue
        damaged += 1
        choice = rng.randrange(4)
        if choice == 1 and numeric:
            row[rng.choice(numeric)] = "abc"
        elif choice == 2 and bounded:
            row[rng.choice(bounded)] = 150
        elif choice == 3 and stamps:
            row[rng.choice(stamps)] = "not-a-timestamp"
        else:
            row.pop(rng.choice(required), None)
    return damaged


def add_extra_fields(rows: list[dict]) -> None:
    for row in rows:
        row["x_sandbox_note"] = "unknown field"
        row["x_sandbox_meta"] = {"source": "sandbox", "version": 2}
