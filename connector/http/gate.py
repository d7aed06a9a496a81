"""Client-side admission control: rate limit, concurrency cap, and a shared 429 pause.

One gate per API client, used by its transport (``connector/http/transport.py``) around each HTTP
exchange and nothing else: authentication (an OAuth token fetch), retries and their waits all
happen *before* a slot is taken, so no thread ever waits for anything while it holds a slot.

Every wait here is bounded: the 429 pause by ``max_pause`` and the run's deadline, the rate limit
and the slot by ``slot_timeout`` and the deadline. A wait that runs out raises an error the retry
layer understands (``GateTimeout``: nothing was sent) or ``RunTimeExceeded``.

When any request is told to wait by a 429, ``pause_for`` makes every other thread wait too, so
eight workers do not each burn a request on an API that already said "slow down" (no 429 storm).
The pause is waited out *without* a slot; a thread that got its slot while a new pause began
gives the slot back before waiting.

How many slots there are adapts to the server when ``adaptive`` (``connector/http/aimd.py``):
it grows while responses come back fast and without 429s, and shrinks on a 429 or when latency
climbs, between 1 and ``max_concurrency``; and after a 429 request starts are paced at a rate learned
from what the server accepted (``AdaptiveRate``), since concurrency alone cannot follow a rate limit
that one request in flight already reaches. The transport reports each exchange's outcome through
the ticket ``slot()`` yields.

Lock order: see docs/architecture.md, "Locks and waits". Here: ``_lock`` (held for a few
assignments only, never across a wait) is independent of the slots (``AdaptiveLimit``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from connector.deadline import Deadline
from connector.errors import TransportError
from connector.http.aimd import AdaptiveLimit, AdaptiveRate


class GateTimeout(TransportError):
    """No request slot (or rate-limit permit) came free in time; the request was never sent."""

    def __init__(self, message: str, **kw) -> None:
        super().__init__(message, sent=False, **kw)


def _limiter_for(per_second: float):
    """A pyrate-limiter Limiter; imported only when a rate limit is configured (it pulls in
    storage backends we never use, a cost every start-up would otherwise pay)."""
    from pyrate_limiter import Duration, Limiter, Rate

    rate = (Rate(max(1, round(per_second)), Duration.SECOND) if per_second >= 1
            else Rate(max(1, round(per_second * 60)), Duration.MINUTE))
    return Limiter(rate)


PauseHook = Callable[[float, str], None]


class RequestGate:
    def __init__(
        self,
        *,
        name: str = "API",
        rate_limit_per_second: float | None = None,
        max_concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        slot_timeout: float = 600.0,
        max_pause: float = 300.0,
        deadline: Deadline | None = None,
        on_pause: PauseHook | None = None,
        adaptive: bool = False,
        initial_concurrency: int | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.name = name
        self.max_concurrency = max_concurrency
        self.rate_limit_per_second = rate_limit_per_second
        self.slot_timeout = slot_timeout
        self.max_pause = max_pause
        self.deadline = deadline or Deadline.never()
        self.on_pause = on_pause
        self.limit = AdaptiveLimit(ceiling=max_concurrency, initial=initial_concurrency, adaptive=adaptive, clock=clock)
        self.pace = AdaptiveRate(clock=clock) if adaptive else None
        self._limiter = _limiter_for(rate_limit_per_second) if rate_limit_per_second else None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until = 0.0

    @property
    def in_flight(self) -> int:
        return self.limit.in_flight

    def pause_for(self, seconds: float, reason: str = "") -> float:
        """Make every request of this client wait ``seconds`` (capped at ``max_pause``)."""
        applied = min(max(0.0, seconds), self.max_pause)
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + applied)
        if self.on_pause is not None:
            self.on_pause(applied, reason or "rate limited")
        return applied

    def _pause_left(self) -> float:
        with self._lock:
            return self._paused_until - self._clock()

    def _wait_out_pause(self) -> None:
        while (left := self._pause_left()) > 0:
            if self.deadline.remaining() <= left:
                self.deadline.check(f"waiting out a {self.name} rate-limit pause of {left:.1f} s")
                self._sleep(max(0.0, self.deadline.remaining()))
                self.deadline.check(f"waiting out a {self.name} rate-limit pause")
            self._sleep(left)

    def _wait_for_pace(self) -> None:
        """Wait for this request's start time under a pace learned from 429s (no slot held)."""
        if self.pace is None:
            return
        wait = self.pace.reserve()
        if wait <= 0:
            return
        if self.deadline.remaining() <= wait:
            self.deadline.check(f"waiting for the {self.name} pace learned from 429s")
            self._sleep(max(0.0, self.deadline.remaining()))
            self.deadline.check(f"waiting for the {self.name} pace learned from 429s")
        self._sleep(wait)

    def _acquire_permit(self) -> None:
        if self._limiter is None:
            return
        timeout = self.deadline.cap(self.slot_timeout)
        if not self._limiter.try_acquire("requests", blocking=True, timeout=timeout):
            self.deadline.check(f"waiting for the {self.name} rate limit")
            raise GateTimeout(f"no {self.name} rate-limit permit within {timeout:.0f} s")

    @contextmanager
    def slot(self) -> Iterator[Ticket]:
        """Hold one request slot for one HTTP exchange; report its outcome on the ticket."""
        while True:
            self._wait_out_pause()
            self._wait_for_pace()
            self._acquire_permit()
            timeout = self.deadline.cap(self.slot_timeout)
            if not self.limit.acquire(timeout):
                self.deadline.check(f"waiting for a free {self.name} request slot")
                raise GateTimeout(f"no {self.name} request slot came free within {timeout:.0f} s "
                                  f"({self.limit.limit} in flight)")
            if self._pause_left() <= 0:
                break
            self.limit.give_back()  # a 429 arrived while we queued: wait it out without a slot
        ticket = Ticket()
        try:
            yield ticket
        finally:
            self.limit.release(latency=ticket.latency, rate_limited=ticket.rate_limited)
            if self.pace is not None and ticket.answered:
                self.pace.observe(rate_limited=ticket.rate_limited)


class Ticket:
    """What the transport tells the gate about one exchange."""

    __slots__ = ("answered", "latency", "rate_limited")

    def __init__(self) -> None:
        self.answered = False  # a response arrived (of any status)
        self.latency: float | None = None
        self.rate_limited = False
