"""How many requests may be in flight: a limit that adapts to the server (AIMD).

Coverbase documents no rate limit, so any fixed concurrency is a guess: too low wastes the
network, too high queues requests on the server. TCP's answer works here too:

- additive increase: once a full window of responses (``limit`` of them) came back without a
  429 and with latency near the best seen, allow one more request in flight;
- multiplicative decrease: on a 429, or when the smoothed latency climbs past ``tolerance`` times
  the best seen (the server is queueing), multiply the limit by ``backoff`` — at most once per
  window, so one burst of 429s from eight requests halves the limit once, not eight times.

The limit stays between ``floor`` and ``ceiling``; with ``adaptive=False`` it is ``ceiling``, fixed.
Only requests with small bodies feed the latency signal (an upload's time says nothing about
queueing). A client-side rate limit, when configured, stays a hard cap on top (``RequestGate``).

Lock order: see docs/architecture.md, "Locks and waits". ``_cond`` is a leaf: held to read and
update the counters, released while a caller waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AdaptiveLimit:
    def __init__(self, *, ceiling: int, initial: int | None = None, floor: int = 1, adaptive: bool = True,
                 backoff: float = 0.7, tolerance: float = 2.0, min_latency_slack: float = 0.005,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ceiling < 1 or floor < 1 or floor > ceiling:
            raise ValueError("need 1 <= floor <= ceiling")
        self.ceiling = ceiling
        self.floor = floor
        self.adaptive = adaptive
        self.backoff = backoff
        self.tolerance = tolerance
        self.min_latency_slack = min_latency_slack
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._limit = float(ceiling if not adaptive else max(floor, min(ceiling, initial or ceiling)))
        self._in_flight = 0
        self._good = 0  # responses since the last change of the limit
        self._best: float | None = None  # lowest latency seen (decays upward slowly)
        self._smoothed: float | None = None
        self._last_decrease = -1e18
        self.decreases = 0
        self.peak = int(self._limit)

    @property
    def limit(self) -> int:
        with self._cond:
            return int(self._limit)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def acquire(self, timeout: float | None) -> bool:
        """Wait (at most ``timeout`` seconds) until fewer than ``limit`` requests are in flight."""
        give_up = None if timeout is None else self._clock() + timeout
        with self._cond:
            while self._in_flight >= int(self._limit):
                left = None if give_up is None else give_up - self._clock()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            self._in_flight += 1
            return True

    def release(self, *, latency: float | None = None, rate_limited: bool = False) -> None:
        """One request is done. ``latency`` of a small request feeds the signal; ``rate_limited``
        (a 429) backs off at once."""
        with self._cond:
            self._in_flight -= 1
            if self.adaptive:
                self._observe(latency, rate_limited)
            self._cond.notify()

    def _observe(self, latency: float | None, rate_limited: bool) -> None:
        if latency is not None and latency >= 0:
            self._best = latency if self._best is None else min(self._best * 1.001 + 1e-6, latency)
            self._smoothed = latency if self._smoothed is None else 0.8 * self._smoothed + 0.2 * latency
        queueing = (self._best is not None and self._smoothed is not None
                    and self._smoothed > self.tolerance * self._best + self.min_latency_slack)
        now = self._clock()
        if rate_limited or queueing:
            window = (self._smoothed or 0.0) * 2
            if now - self._last_decrease >= window:
                self._limit = max(float(self.floor), self._limit * self.backoff)
                self._last_decrease = now
                self._good = 0
                self.decreases += 1
                if queueing and self._smoothed is not None and self._best is not None:
                    self._smoothed = (self._smoothed + self._best) / 2  # let the signal re-settle
            return
        self._good += 1
        if self._good >= int(self._limit) and self._limit < self.ceiling:
            self._limit = min(float(self.ceiling), self._limit + 1)
            self._good = 0
            self.peak = max(self.peak, int(self._limit))
            self._cond.notify()  # one more may go now
