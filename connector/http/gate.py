"""Client-side admission control: rate limit, concurrency cap, and a shared 429 pause.

One gate per API client. Every request passes through ``slot()``. When any request is told to
wait by a 429, ``pause_for`` makes every other thread wait too, so eight workers do not each
burn a request on an API that already said "slow down" (no 429 storm).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyrate_limiter import Duration, Limiter, Rate


def _rate_for(per_second: float) -> Rate:
    if per_second >= 1:
        return Rate(max(1, round(per_second)), Duration.SECOND)
    return Rate(max(1, round(per_second * 60)), Duration.MINUTE)


class RequestGate:
    def __init__(
        self,
        *,
        rate_limit_per_second: float | None = None,
        max_concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.max_concurrency = max_concurrency
        self.rate_limit_per_second = rate_limit_per_second
        self._sem = threading.BoundedSemaphore(max_concurrency)
        self._limiter = Limiter(_rate_for(rate_limit_per_second)) if rate_limit_per_second else None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def pause_for(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def _wait_out_pause(self) -> None:
        while True:
            with self._lock:
                remaining = self._paused_until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._sem:
            self._wait_out_pause()
            if self._limiter is not None:
                self._limiter.try_acquire("requests")
            yield
