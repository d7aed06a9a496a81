"""Seeded faults of the Coverbase emulator: what a real deployment does to a client on a bad day.

Latency (steady, jittered, spikes), 429 with ``Retry-After`` (drawn, or from a requests-per-second
token bucket), 5xx before processing, the ambiguous write (committed, then answered 504 or the
connection dropped), a server that stops answering, and FastAPI's ``string_too_long``. Decisions
are deterministic by seed and request fingerprint (``faults.FaultRoller``); the dispatcher
(``coverbase_dispatch.py``) applies them around every ``/v1`` request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import threading
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from connector.emulators.coverbase_errors import ApiProblem, invalid
from connector.emulators.faults import FaultRoller, TokenBucket

DROP_MARKER = "emulated ambiguous write"


class _DropFilter(logging.Filter):
    """Keep uvicorn from logging each deliberately dropped connection as a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return DROP_MARKER not in str(exc or "")


logging.getLogger("uvicorn.error").addFilter(_DropFilter())


class CoverbaseFaults(BaseModel):
    """Settable at start (CLI) and at run time (``PUT /_emulator/faults``)."""

    seed: int = 0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_spike_rate: float = 0.0
    latency_spike_ms: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    statuses_5xx: list[int] = Field(default_factory=lambda: [500, 502, 503, 504])
    rps_limit: float | None = None
    rate_ambiguous: float = 0.0
    ambiguous_mode: Literal["status", "disconnect", "mixed"] = "mixed"
    path_filter: str | None = None  # regex: faults only on matching paths
    # The server stops answering: after this many /v1 requests every later one is accepted and
    # never answered (until the setting is cleared). What a hung backend looks like to a client.
    hang_after: int | None = None
    # Strings longer than this in a JSON body get FastAPI's 422 string_too_long (a model's
    # max_length): Coverbase documents no limits, a real deployment may well have some.
    max_string_length: int | None = None
    # regex: the first write of each distinct request (method, path, query, body) to a matching path is
    # committed, then answered ambiguously (504 or a dropped connection; ``ambiguous_mode``)
    ambiguous_first_paths: str | None = None


class DroppedResponse(Response):
    """Start a response, then drop the connection: the client sees no complete answer."""

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"id": "cb', "more_body": True})
        raise ConnectionAbortedError(DROP_MARKER)


def rate_limited(retry_after: float) -> ApiProblem:
    return ApiProblem(429, {"detail": {"code": "rate_limited", "message": "Rate limit exceeded.",
                                       "retry_after": round(retry_after, 3)}},
                      {"Retry-After": str(max(1, math.ceil(retry_after)))})


class FaultInjector:
    """The current fault settings and the seeded state that decides, request by request."""

    def __init__(self, settings: CoverbaseFaults | None = None) -> None:
        self.settings = settings or CoverbaseFaults()
        self.roller = FaultRoller(self.settings.seed)
        self.bucket = TokenBucket(self.settings.rps_limit) if self.settings.rps_limit else None
        self._written: set[tuple] = set()  # write fingerprints seen (ambiguous_first_paths)
        self._written_lock = threading.Lock()
        self._api_requests = 0

    def set(self, patch: dict) -> CoverbaseFaults:
        self.settings = self.settings.model_copy(update=CoverbaseFaults.model_validate(
            {**self.settings.model_dump(), **patch}).model_dump())
        self.roller.reset(self.settings.seed)
        self._written.clear()
        self.bucket = TokenBucket(self.settings.rps_limit) if self.settings.rps_limit else None
        return self.settings

    def decide(self, request: Request, raw: bytes) -> dict:
        f = self.settings
        if not (f.rate_429 or f.rate_5xx or f.rate_ambiguous or f.latency_jitter_ms or f.latency_spike_rate
                or f.ambiguous_first_paths):
            return {"delay": f.latency_ms / 1000.0}  # nothing random to decide: skip the seeded draw
        path = request.url.path
        if f.path_filter and not re.search(f.path_filter, path):
            return {}
        rng = self.roller.rng_for(request.method, path, request.url.query,
                                  request.headers.get("idempotency-key", ""), hashlib.sha256(raw).hexdigest())
        out: dict[str, Any] = {}
        delay = f.latency_ms + (rng.uniform(0, f.latency_jitter_ms) if f.latency_jitter_ms else 0.0)
        if f.latency_spike_rate and rng.random() < f.latency_spike_rate:
            delay += f.latency_spike_ms
        out["delay"] = delay / 1000.0
        if f.rate_429 and rng.random() < f.rate_429:
            out["status"] = 429
        elif f.rate_5xx and rng.random() < f.rate_5xx:
            out["status"] = rng.choice(f.statuses_5xx)
        elif request.method != "GET" and f.rate_ambiguous and rng.random() < f.rate_ambiguous:
            mode = f.ambiguous_mode if f.ambiguous_mode != "mixed" else rng.choice(["status", "disconnect"])
            out["ambiguous"] = mode
        if ("status" not in out and "ambiguous" not in out and request.method != "GET" and f.ambiguous_first_paths
                and re.search(f.ambiguous_first_paths, path)):
            fingerprint = (request.method, path, request.url.query, hashlib.sha256(raw).hexdigest())
            with self._written_lock:
                first = fingerprint not in self._written
                self._written.add(fingerprint)
            if first:
                out["ambiguous"] = f.ambiguous_mode if f.ambiguous_mode != "mixed" else \
                    rng.choice(["status", "disconnect"])
        return out

    async def maybe_hang(self, request: Request, entry: dict) -> None:
        if not request.url.path.startswith("/v1"):
            return
        self._api_requests += 1
        limit = self.settings.hang_after
        if limit is None or self._api_requests <= limit:
            return
        entry["fault"] = "hang"
        for _ in range(36000):  # at most an hour; cleared at once when the setting is removed
            if self.settings.hang_after is None:
                return
            await asyncio.sleep(0.1)

    def check_lengths(self, body: Any) -> None:
        limit = self.settings.max_string_length
        if limit is None or body is None:
            return

        def walk(value: Any, loc: list) -> None:
            if isinstance(value, str) and len(value) > limit:
                raise invalid((["body", *loc], f"String should have at most {limit} characters", "string_too_long"))
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, [*loc, k])
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, [*loc, i])

        walk(body, [])
