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
from collections import deque
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

    def give_back(self) -> None:
        """A slot taken but not used (nothing was sent): free it without counting a response."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

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
            self._good = 0  # the next increase needs a full window with no 429 and no queueing
            window = (self._smoothed or 0.0) * 2
            if now - self._last_decrease >= window:
                self._limit = max(float(self.floor), self._limit * self.backoff)
                self._last_decrease = now
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


class AdaptiveRate:
    """A request rate learned from 429s: paces request starts once the server has said "too many".

    Concurrency alone cannot follow a rate limit that one request in flight already reaches
    (50 requests/s at 20 ms is one request at a time): the limit would swing between 1 and 2 and
    every swing to 2 doubles the load. So a 429 sets a pace instead:

    - multiplicative decrease: on a 429 the pace becomes ``backoff`` times the rate the server
      accepted over the last second (or times the current pace, whichever is lower) — once per
      second at most, so one burst of 429s counts once;
    - additive increase: each second without a 429 adds ``step`` of the pace (at least 0.5/s);
    - after ``forget_after`` seconds without a 429 the pace is dropped and requests start freely.

    Until the first 429 there is no pace and no cost beyond one timestamp per response.
    Lock order: ``_lock`` is a leaf, never held across a sleep (the wait for one's start time is
    taken after the reservation, without the lock and without a request slot).
    """

    def __init__(self, *, backoff: float = 0.9, step: float = 0.02, floor: float = 0.5, forget_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff, self.step, self.floor, self.forget_after = backoff, step, floor, forget_after
        self._clock = clock
        self._lock = threading.Lock()
        self._rate: float | None = None  # requests per second; None: no pace
        self._next_start = 0.0
        self._accepted: deque[float] = deque()  # when accepted responses arrived, over the last second
        self._last_429 = -1e18
        self._last_decrease = -1e18
        self._grown_at = 0.0  # the pace grows by one step per whole second since this
        self.decreases = 0

    @property
    def rate(self) -> float | None:
        with self._lock:
            return self._rate

    def reserve(self) -> float:
        """Seconds the caller must wait before it may start its request (0 without a pace)."""
        with self._lock:
            if self._rate is None:
                return 0.0
            now = self._clock()
            self._grow(now)
            if self._rate is None:
                return 0.0
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self._rate
            return start - now

    def observe(self, *, rate_limited: bool) -> None:
        now = self._clock()
        with self._lock:
            if not rate_limited:
                self._accepted.append(now)
                while self._accepted and self._accepted[0] < now - 1.0:
                    self._accepted.popleft()
                return
            self._last_429 = self._grown_at = now
            if now - self._last_decrease < 1.0:
                return
            accepted = float(len(self._accepted))
            base = accepted if self._rate is None else min(self._rate, max(accepted, self.floor))
            self._rate = max(self.floor, base * self.backoff)
            self._last_decrease = now
            self.decreases += 1

    def _grow(self, now: float) -> None:
        if now - self._last_429 >= self.forget_after:
            self._rate = None
            return
        seconds = int(now - self._grown_at)
        if seconds >= 1 and self._rate is not None:
            for _ in range(min(seconds, 60)):
                self._rate += max(0.5, self._rate * self.step)
            self._grown_at += seconds
