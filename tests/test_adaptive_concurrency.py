"""The adaptive concurrency limit (AIMD): grows while responses are fast and 429-free, backs off on a
429 or rising latency, once per window, between its floor and ceiling; fixed when not adaptive."""

from __future__ import annotations

import threading

import pytest

from connector.http.aimd import AdaptiveLimit
from tests.conftest import VirtualTime

pytestmark = pytest.mark.timeout(30)


def _round(limit: AdaptiveLimit, n: int, latency: float = 0.02, rate_limited: bool = False) -> None:
    for _ in range(n):
        assert limit.acquire(0)
        limit.release(latency=latency, rate_limited=rate_limited)


def test_a_full_window_of_fast_responses_allows_one_more_request_in_flight():
    lim = AdaptiveLimit(ceiling=32, initial=4)
    _round(lim, 3)
    assert lim.limit == 4
    _round(lim, 1)
    assert lim.limit == 5
    _round(lim, 5)
    assert lim.limit == 6


def test_the_limit_never_grows_past_the_ceiling():
    lim = AdaptiveLimit(ceiling=6, initial=4)
    _round(lim, 500)
    assert lim.limit == 6 and lim.peak == 6


def test_a_429_backs_off_multiplicatively_once_per_window():
    vt = VirtualTime()
    lim = AdaptiveLimit(ceiling=32, initial=20, backoff=0.5, clock=vt.clock)
    _round(lim, 1)
    for _ in range(8):  # a burst of 429s from eight requests in flight
        assert lim.acquire(0)
        lim.release(latency=0.02, rate_limited=True)
    assert lim.limit == 10 and lim.decreases == 1
    vt.now += 1.0  # a window later, another 429 halves again
    _round(lim, 1, rate_limited=True)
    assert lim.limit == 5


def test_latency_climbing_past_twice_the_best_backs_off():
    vt = VirtualTime()
    lim = AdaptiveLimit(ceiling=32, initial=16, clock=vt.clock)
    _round(lim, 20, latency=0.020)
    before = lim.limit
    for _ in range(10):
        vt.now += 0.5
        _round(lim, 1, latency=0.200)
    assert lim.limit < before and lim.decreases >= 1


def test_the_limit_never_drops_below_the_floor():
    vt = VirtualTime()
    lim = AdaptiveLimit(ceiling=8, initial=2, floor=1, clock=vt.clock)
    for _ in range(20):
        vt.now += 1
        _round(lim, 1, rate_limited=True)
    assert lim.limit == 1


def test_a_fixed_limit_ignores_every_signal():
    lim = AdaptiveLimit(ceiling=8, initial=2, adaptive=False)
    _round(lim, 100)
    _round(lim, 5, rate_limited=True)
    assert lim.limit == 8


def test_acquire_waits_for_a_release_and_gives_up_after_its_bound():
    lim = AdaptiveLimit(ceiling=1, adaptive=False)
    assert lim.acquire(0)
    assert not lim.acquire(0.05)
    threading.Timer(0.05, lim.release).start()
    assert lim.acquire(5)
    lim.release()


def test_a_slot_given_back_unused_is_not_counted_as_a_fast_response():
    lim = AdaptiveLimit(ceiling=32, initial=2)
    for _ in range(100):
        assert lim.acquire(0)
        lim.give_back()
    assert lim.limit == 2 and lim.in_flight == 0
