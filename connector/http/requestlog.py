"""The request-log hook both clients call once per HTTP attempt, with secrets redacted."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel


def redact_key(key: str | None) -> str | None:
    """Idempotency keys identify source records; log a stable digest, never the key."""
    if key is None:
        return None
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


class RequestLogEntry(BaseModel):
    api: str
    method: str
    path: str  # no query string: queries can carry emails and filters
    status: int | None
    duration_ms: float
    attempt: int
    idempotency_key: str | None = None  # redacted
    error: str | None = None
    request_id: str | None = None


RequestHook = Callable[[RequestLogEntry], None]


class CallCounter:
    """Thread-safe count of HTTP attempts by method; feeds run metadata and benchmarks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method: Counter[str] = Counter()

    def add(self, method: str) -> None:
        with self._lock:
            self._by_method[method] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._by_method.values())

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(n for m, n in self._by_method.items() if m != "GET")

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_method)
