"""Retry and no-retry decisions of the Coverbase client, with seeded faults over real HTTP."""

import socket

import pytest

from connector.coverbase.client import CoverbaseClient
from connector.coverbase.errors import CoverbaseRateLimited, CoverbaseServerError, CoverbaseTransportError
from connector.coverbase.models import UserCreate, VendorCreate
from connector.http.retrying import RetrySettings
from tests.conftest import VirtualTime


def test_429_is_retried_after_the_advertised_delay(coverbase):
    coverbase.emu.set_faults({"rate_429": 0.5, "retry_after": 0.01, "seed": 3})
    vt = VirtualTime()
    with coverbase.client(sleep=vt.sleep, clock=vt.clock) as cb:
        for i in range(10):
            cb.auth_test()
    assert vt.slept and all(s >= 0.01 for s in vt.slept)
    assert sum(r["status"] == 429 for r in coverbase.requests()) == len(vt.slept)


def test_rate_limit_waits_do_not_use_up_the_retry_budget(coverbase):
    coverbase.emu.set_faults({"rate_429": 0.7, "retry_after": 0.001, "seed": 1})
    with coverbase.client(retry=RetrySettings(max_retries=0, max_total_wait=30)) as cb:
        for _ in range(5):
            assert cb.auth_test().msg
    assert any(r["status"] == 429 for r in coverbase.requests())


def test_total_wait_is_bounded(coverbase):
    coverbase.emu.set_faults({"rate_429": 1.0, "retry_after": 5})
    vt = VirtualTime()
    with coverbase.client(retry=RetrySettings(max_total_wait=12), sleep=vt.sleep, clock=vt.clock) as cb:
        with pytest.raises(CoverbaseRateLimited):
            cb.auth_test()
    assert vt.now <= 12 and vt.slept == [5.0, 5.0]


def test_5xx_on_a_get_is_retried_until_it_succeeds(coverbase):
    coverbase.emu.set_faults({"rate_5xx": 0.5, "seed": 7})
    with coverbase.client() as cb:
        for _ in range(10):
            cb.auth_test()
    assert any(r["status"] and r["status"] >= 500 for r in coverbase.requests())


def test_5xx_on_an_idempotent_post_is_retried_and_creates_once(coverbase):
    coverbase.emu.set_faults({"rate_ambiguous": 0.6, "seed": 5, "ambiguous_mode": "mixed"})
    with coverbase.client() as cb:
        ids = {cb.create_vendor(VendorCreate(name=f"V{i}", external_id=f"e{i}"), idempotency_key=f"sn:v:{i}").id
               for i in range(8)}
    assert len(ids) == 8 and len(coverbase.state()["vendors"]) == 8


def test_create_or_get_user_is_retried_without_a_key(coverbase):
    coverbase.emu.set_faults({"rate_ambiguous": 0.6, "seed": 2, "ambiguous_mode": "disconnect"})
    with coverbase.client() as cb:
        for i in range(5):
            cb.create_or_get_user(UserCreate(email=f"u{i}@acme.example"))
    assert len(coverbase.state()["users"]) == 5


def test_persistent_5xx_gives_up_after_the_budget(coverbase):
    coverbase.emu.set_faults({"rate_5xx": 1.0, "statuses_5xx": [503]})
    slept = []
    with coverbase.client(retry=RetrySettings(max_retries=2, backoff_initial=0.001), sleep=slept.append) as cb:
        with pytest.raises(CoverbaseServerError) as exc:
            cb.auth_test()
    assert exc.value.status == 503 and len(slept) == 2


def test_connection_refused_is_a_transport_error_marked_not_sent():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with CoverbaseClient(f"http://127.0.0.1:{port}", "ak_x",
                         retry=RetrySettings(max_retries=1, backoff_initial=0.001), sleep=lambda s: None) as cb:
        with pytest.raises(CoverbaseTransportError) as exc:
            cb.auth_test()
    assert exc.value.sent is False and exc.value.retryable


def test_request_hook_sees_every_attempt_with_the_key_redacted(coverbase):
    entries = []
    with coverbase.client(request_hook=entries.append) as cb:
        cb.create_vendor(VendorCreate(name="Acme"), idempotency_key="sn:core_company:abc123")
    e = entries[-1]
    assert (e.method, e.path, e.status) == ("POST", "/v1/vendors", 201)
    assert e.idempotency_key.startswith("sha256:") and "abc123" not in e.model_dump_json()
    assert coverbase.api_key not in e.model_dump_json()


def test_client_rate_limit_caps_requests_per_second(coverbase):
    import time

    with coverbase.client(rate_limit_per_second=20) as cb:
        t0 = time.monotonic()
        for _ in range(41):
            cb.auth_test()
        elapsed = time.monotonic() - t0
    assert elapsed >= 1.9  # 41 requests at 20/s need two full windows after the first burst


def test_call_counter_counts_attempts_by_method(coverbase):
    with coverbase.client() as cb:
        cb.auth_test()
        cb.create_vendor(VendorCreate(name="A"), idempotency_key="k")
        assert cb.calls.snapshot() == {"GET": 1, "POST": 1} and cb.calls.writes == 1
