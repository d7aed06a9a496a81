"""Retry loop shared by both clients, built on tenacity.

Rules (prior art: Grouparoo, stripe-python, tap-servicenow):
- only errors marked ``retryable`` are retried; the client decides that per request
  (a non-idempotent POST turns a lost response into ``AmbiguousWriteError``, never retried);
- a rate-limit wait honours the server's delay and does not use up the retry budget;
- other transient failures back off exponentially with jitter, at most ``max_retries`` times;
- the total time spent waiting is bounded by ``max_total_wait``, each single wait by
  ``max_single_wait`` (a server asking for an hour gets five minutes, then the budget decides),
  and no wait runs past the run's deadline; past any of them the last error is raised so the
  caller can record the record as transient and move on (or the run stops at its deadline).
- every wait is reported to ``on_wait`` (the clients log it with the reason).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from connector.deadline import Deadline
from connector.errors import ApiError, RateLimitedError

T = TypeVar("T")


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 5
    backoff_initial: float = 0.25
    backoff_max: float = 20.0
    max_total_wait: float = 300.0
    rate_limit_default_wait: float = 1.0
    max_single_wait: float = 300.0
    # Upward-only jitter on server-given delays: never shorter than asked.
    rate_limit_jitter: float = 0.0


_local = threading.local()


def _thread_rng() -> random.Random:
    """One jitter source per thread: seeding a new Random from the OS costs more than the rest of
    a successful call's retry bookkeeping."""
    rng = getattr(_local, "rng", None)
    if rng is None:
        rng = _local.rng = random.Random()
    return rng


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


class _Policy:
    """Holds the per-call counters tenacity's stateless strategies cannot."""

    def __init__(self, settings: RetrySettings, rng: random.Random, deadline: Deadline) -> None:
        self.s = settings
        self.rng = rng
        self.deadline = deadline
        self.transient_failures = 0

    def wait(self, rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        if isinstance(exc, RateLimitedError):
            base = exc.retry_after if exc.retry_after is not None else self.s.rate_limit_default_wait
            wait = max(0.0, base) * (1 + self.rng.uniform(0, self.s.rate_limit_jitter))
        else:
            self.transient_failures += 1
            cap = min(self.s.backoff_max, self.s.backoff_initial * 2 ** (self.transient_failures - 1))
            # "equal jitter": at least half the exponential step, so retries still spread out.
            wait = cap / 2 + self.rng.uniform(0, cap / 2)
        return min(wait, self.s.max_single_wait)

    def stop(self, rs: RetryCallState) -> bool:
        if self.transient_failures > self.s.max_retries:
            return True
        upcoming = rs.upcoming_sleep or 0.0
        if upcoming >= self.deadline.remaining():
            return True  # the run ends before the retry could be sent
        return rs.idle_for + upcoming > self.s.max_total_wait


def call_with_retries(
    fn: Callable[[], T],
    settings: RetrySettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[ApiError, float], None] | None = None,
    rng: random.Random | None = None,
    deadline: Deadline | None = None,
) -> T:
    # Fast path: most calls succeed at once, and building the retry machinery costs more than
    # the rest of a successful call's bookkeeping. The first failure is replayed into the
    # retry loop, so the policy sees exactly the attempts it would have seen.
    try:
        return fn()
    except BaseException as exc:
        if not _is_retryable(exc):
            raise
        first: BaseException | None = exc

    def attempt() -> T:
        nonlocal first
        if first is not None:
            exc, first = first, None
            raise exc
        return fn()

    policy = _Policy(settings, rng or _thread_rng(), deadline or Deadline.never())

    def before_sleep(rs: RetryCallState) -> None:
        if on_wait is not None and rs.outcome is not None:
            exc = rs.outcome.exception()
            if isinstance(exc, ApiError):
                on_wait(exc, rs.upcoming_sleep)

    retrying = Retrying(
        retry=retry_if_exception(_is_retryable),
        wait=policy.wait,
        stop=policy.stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)
