"""Nothing waits forever: the request gate, the worker pool, the ledger writer, the retry loop and
the Retry-After parser each have a bound, and the run's deadline caps them all."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from connector.deadline import Deadline
from connector.errors import FatalSyncError, RunTimeExceeded
from connector.http.gate import GateTimeout, RequestGate
from connector.http.requestlog import CallCounter
from connector.http.retry_after import parse_retry_after
from connector.http.retrying import RetrySettings, call_with_retries
from connector.http.transport import ApiTransport
from connector.servicenow.errors import ServiceNowServerError
from connector.state import LedgerRow, StateDB
from connector.sync.ledger_writer import LedgerWriter, LedgerWriterFailed
from connector.workers import run_all
from tests.conftest import VirtualTime

pytestmark = pytest.mark.timeout(60)


# --- Retry-After ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("3", 3.0), ("0.5", 0.5), ("-2", 0.0),
                                             ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0)])
def test_retry_after_is_seconds_or_an_http_date(value, expected):
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(value, now=now) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["soon", "", "   ", "nan", "inf", "Wed, 99 Foo 2015", None])
def test_a_retry_after_that_is_not_understood_is_none_never_an_error(value):
    assert parse_retry_after(value) is None


# --- the gate ------------------------------------------------------------------------------

def test_a_slot_that_never_comes_free_raises_a_not_sent_error_after_its_bound():
    gate = RequestGate(max_concurrency=1, slot_timeout=0.2)
    with gate.slot():
        t0 = time.monotonic()
        with pytest.raises(GateTimeout) as exc:
            with gate.slot():
                pass
    assert exc.value.sent is False and exc.value.retryable and time.monotonic() - t0 < 5


def test_a_rate_limit_pause_is_waited_out_without_holding_a_slot():
    vt = VirtualTime()
    gate = RequestGate(max_concurrency=1, clock=vt.clock, sleep=vt.sleep)
    gate.pause_for(3.0, "test")
    with gate.slot():
        assert gate.in_flight == 1
    assert vt.slept == [3.0] and gate.in_flight == 0


def test_a_server_asking_for_an_hour_gets_the_capped_pause_and_the_reason_is_reported():
    seen = []
    gate = RequestGate(max_pause=300.0, on_pause=lambda s, why: seen.append((s, why)))
    assert gate.pause_for(3600, "Coverbase answered 429") == 300.0
    assert seen == [(300.0, "Coverbase answered 429")]


def test_a_pause_longer_than_the_run_has_left_ends_the_run():
    vt = VirtualTime()
    gate = RequestGate(clock=vt.clock, sleep=vt.sleep, deadline=Deadline(10, clock=vt.clock))
    gate.pause_for(60, "test")
    with pytest.raises(RunTimeExceeded):
        with gate.slot():
            pass


def test_the_transport_caps_socket_timeouts_at_the_time_the_run_has_left():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.extensions["timeout"])
        return httpx.Response(200)

    transport = ApiTransport(httpx.MockTransport(handler), api="test", calls=CallCounter(), deadline=Deadline(5))
    with httpx.Client(transport=transport, timeout=120) as client:
        client.get("https://example.org/x")
    assert 0 < seen["read"] <= 5 and 0 < seen["connect"] <= 5


def test_no_request_is_sent_once_the_deadline_has_passed():
    calls = CallCounter()
    transport = ApiTransport(httpx.MockTransport(lambda r: httpx.Response(200)), api="test", calls=calls,
                             deadline=Deadline(0))
    with httpx.Client(transport=transport) as client, pytest.raises(RunTimeExceeded):
        client.get("https://example.org/x")
    assert calls.total == 0


def test_the_retry_loop_stops_when_the_next_wait_would_pass_the_deadline():
    vt = VirtualTime()
    attempts = []

    def failing():
        attempts.append(vt.now)
        raise ServiceNowServerError("down", status=503)

    with pytest.raises(ServiceNowServerError):
        call_with_retries(failing, RetrySettings(max_retries=50, backoff_initial=1, backoff_max=1, max_total_wait=1e6),
                          sleep=vt.sleep, deadline=Deadline(5.0, clock=vt.clock))
    assert vt.now <= 5.0 and len(attempts) >= 3


# --- the worker pool -----------------------------------------------------------------------

def test_run_all_keeps_the_input_order_and_reports_each_result_as_it_arrives():
    seen = []
    assert run_all(lambda x: x * x, range(20), workers=4, on_result=lambda i, r: seen.append(r)) == \
        [x * x for x in range(20)]
    assert sorted(seen) == [x * x for x in range(20)]


def test_a_fatal_worker_error_stops_new_items_and_is_raised_after_the_in_flight_ones_are_recorded():
    started, recorded = [], []
    gate = threading.Event()

    def fn(x):
        started.append(x)
        if x == 0:
            raise FatalSyncError("credentials revoked")
        gate.wait(5)
        return x

    def record(item, result):
        recorded.append(item)

    threading.Timer(0.3, gate.set).start()
    with pytest.raises(FatalSyncError):
        run_all(fn, range(100), workers=3, on_result=record)
    assert len(started) < 100 and set(recorded) <= set(started) and 0 not in recorded


def test_run_all_ends_at_the_deadline_without_waiting_for_a_stuck_worker():
    stuck = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(RunTimeExceeded, match="waiting for stuck"):
        run_all(lambda x: stuck.wait(60), [1, 2], workers=2, deadline=Deadline(0.5), doing="waiting for stuck")
    assert time.monotonic() - t0 < 5
    stuck.set()


def test_worker_threads_are_daemons_so_a_stuck_one_never_keeps_the_process_alive():
    names = []

    def fn(x):
        names.append(threading.current_thread().daemon)
        return x

    run_all(fn, [1, 2, 3], workers=2)
    assert names and all(names)


# --- the ledger writer ---------------------------------------------------------------------

def _row(key: str) -> LedgerRow:
    return LedgerRow("vendor", "servicenow", key, "pending")


def test_the_ledger_writer_commits_a_write_ahead_row_before_put_returns(tmp_path):
    path = tmp_path / "state.db"
    StateDB(path).close()
    writer = LedgerWriter(path)
    writer.put(_row("a"), [], "run1", sync=True)
    with StateDB(path) as state:
        assert state.ledger_row("vendor", "servicenow", "a") is not None
    writer.close()


def test_a_dead_ledger_writer_fails_the_next_put_at_once_with_the_cause(tmp_path):
    path = tmp_path / "state.db"
    StateDB(path).close()
    writer = LedgerWriter(path)
    writer.put(LedgerRow("vendor", "servicenow", "x", "pending", payload=object()), [], "run1")  # not JSON
    with pytest.raises(LedgerWriterFailed, match="ledger writer failed .*TypeError"):
        for _ in range(100):  # the failure lands asynchronously; the first put after it must raise
            writer.put(_row("b"), [], "run1", sync=True)
    with pytest.raises(LedgerWriterFailed, match="not committed"):
        writer.close()
