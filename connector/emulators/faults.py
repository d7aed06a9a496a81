"""Deterministic fault injection shared by both emulators.

A fault decision depends only on the seed, the request's fingerprint (method, path, query,
idempotency key, JSON body digest) and how many times that same fingerprint was seen before.
It does not depend on arrival order, so concurrent clients get the same faults on every run
with the same seed, and a retried request eventually gets through.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter


class FaultRoller:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def rng_for(self, *parts: str) -> random.Random:
        key = "\x1f".join(parts)
        with self._lock:
            n = self._seen[key]
            self._seen[key] += 1
        digest = hashlib.sha256(f"{self.seed}\x1e{key}\x1e{n}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def reset(self, seed: int | None = None) -> None:
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._seen.clear()


class TokenBucket:
    """Requests-per-second limit like an API gateway's: ``rate`` tokens/s, burst ``rate``."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """None when admitted; else the seconds until a token is available."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / self.rate
