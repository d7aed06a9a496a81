"""The pace learned from 429s: none until the server says "too many", then a request rate just
under what the server accepted, growing slowly while no 429 comes and dropped after a quiet minute.
Run against a simulated server with a token-bucket limit on virtual time (no real waiting)."""

from __future__ import annotations

import random

import pytest

from connector.emulators.faults import TokenBucket
from connector.http.aimd import AdaptiveRate
from connector.http.gate import RequestGate
from tests.conftest import VirtualTime

pytestmark = pytest.mark.timeout(30)


def test_no_pace_and_no_wait_before_the_first_429():
    rate = AdaptiveRate()
    for _ in range(1000):
        rate.observe(rate_limited=False)
    assert rate.rate is None and rate.reserve() == 0.0


def test_a_429_paces_requests_below_the_rate_the_server_accepted():
    vt = VirtualTime()
    rate = AdaptiveRate(backoff=0.9, clock=vt.clock)
    for _ in range(40):  # 40 accepted over the last 0.8 s
        vt.now += 0.02
        rate.observe(rate_limited=False)
    rate.observe(rate_limited=True)
    assert rate.rate == pytest.approx(36.0)
    waits = [rate.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 1 / 36, 2 / 36, 3 / 36])


def test_a_burst_of_429s_decreases_the_pace_once_per_second():
    vt = VirtualTime()
    rate = AdaptiveRate(backoff=0.5, clock=vt.clock)
    for _ in range(20):
        rate.observe(rate_limited=False)
    for _ in range(8):
        rate.observe(rate_limited=True)
    assert rate.rate == 10.0 and rate.decreases == 1
    vt.now += 1.0
    rate.observe(rate_limited=True)
    assert rate.rate == pytest.approx(5.0) and rate.decreases == 2


def test_the_pace_grows_each_quiet_second_and_is_dropped_after_a_quiet_minute():
    vt = VirtualTime()
    rate = AdaptiveRate(backoff=0.5, step=0.1, forget_after=60, clock=vt.clock)
    for _ in range(20):
        rate.observe(rate_limited=False)
    rate.observe(rate_limited=True)
    assert rate.rate == 10.0
    vt.now += 2.5
    rate.reserve()
    assert rate.rate == pytest.approx(12.1)  # two whole quiet seconds: +10 %, +10 %
    vt.now += 60
    assert rate.reserve() == 0.0 and rate.rate is None


def test_the_pace_never_drops_below_its_floor():
    vt = VirtualTime()
    rate = AdaptiveRate(floor=0.5, clock=vt.clock)
    for _ in range(30):
        rate.observe(rate_limited=True)
        vt.now += 1.0
    assert rate.rate >= 0.5


def test_against_a_rate_limited_server_the_gate_settles_near_the_limit_with_few_429s():
    """Seeded simulation: 8 requests in flight at 20 ms each would send 400/s to a 50/s bucket."""
    vt = VirtualTime()
    rng = random.Random(7)
    gate = RequestGate(name="sim", max_concurrency=8, adaptive=True, initial_concurrency=8,
                       clock=vt.clock, sleep=vt.sleep)
    bucket = TokenBucket(50, clock=vt.clock)
    accepted = rejected = 0
    while vt.now < 60:
        with gate.slot() as ticket:
            ticket.answered = True
            ticket.rate_limited = bucket.take() is not None
            ticket.latency = 0.02
        accepted += not ticket.rate_limited
        rejected += ticket.rate_limited
        vt.now += rng.uniform(0.0, 0.004)  # our own time between requests
    assert accepted / 60 >= 0.9 * 50
    assert rejected <= 0.05 * (accepted + rejected)
