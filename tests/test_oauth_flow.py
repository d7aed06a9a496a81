"""ServiceNow OAuth: the token fetch never waits inside a request slot, one thread fetches for all,
tokens are replaced before they expire (10 % of their lifetime, at most 60 s), refresh tokens
that expire or rotate are handled, and the token endpoint's 429/5xx are retried.

The deadlock these tests pin: a thread holding the only request slot waited for the OAuth lock
while the token fetch waited for a slot. Every test that could hang has a hard timeout."""

from __future__ import annotations

import threading

import httpx
import pytest

from connector.servicenow.auth import Grant, TokenCache, refresh_margin
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowAuthError
from tests.conftest import SN_FAST_RETRY, VirtualTime

PATH = "/api/now/table/core_company"
pytestmark = pytest.mark.timeout(60)


def _mock_instance(*, lifetime: int = 1800, token_status: int = 200, valid=None):
    """A ServiceNow stand-in for one-function unit tests: tokens are 'tok-N'; ``valid`` decides
    which tokens the Table API accepts (default: all)."""
    grants: list[str] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth_token.do":
            form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
            with lock:
                grants.append(form["grant_type"])
                n = len(grants)
            if token_status != 200:
                return httpx.Response(token_status, json={"error": "server_error",
                                                          "error_description": "access_denied"})
            return httpx.Response(200, json={"access_token": f"tok-{n}", "expires_in": lifetime,
                                             "token_type": "Bearer", "scope": "useraccount"})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if valid is not None and not valid(token):
            return httpx.Response(401, json={"error": {"message": "User Not Authenticated"}, "status": "failure"})
        return httpx.Response(200, json={"result": [{"sys_id": "a", "token": token}]},
                              headers={"content-type": "application/json"})

    return handler, grants


def _client(handler, **kw) -> ServiceNowClient:
    kw.setdefault("retry", SN_FAST_RETRY)
    return ServiceNowClient("https://acme.service-now.com", client_id="cid", client_secret="secret",
                            transport=httpx.MockTransport(handler), **kw)


def test_the_refresh_margin_scales_with_the_token_lifetime():
    assert refresh_margin(20) == pytest.approx(2.0)
    assert refresh_margin(5) == pytest.approx(0.5)
    assert refresh_margin(300) == pytest.approx(30.0)
    assert refresh_margin(1800) == 60.0  # capped


def test_oauth_with_a_single_request_slot_does_not_deadlock_on_the_first_request():
    handler, grants = _mock_instance()
    with _client(handler, max_concurrency=1) as c:
        assert c.get_json(PATH)["result"]
    assert grants == ["client_credentials"]


def test_many_threads_starting_at_once_share_one_token_fetch():
    handler, grants = _mock_instance()
    errors: list[BaseException] = []
    with _client(handler, max_concurrency=2) as c:
        barrier = threading.Barrier(16)

        def read() -> None:
            barrier.wait()
            try:
                c.get_json(PATH)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(16)]
        [t.start() for t in threads]
        [t.join(30) for t in threads]
    assert not errors and grants == ["client_credentials"]


def test_a_20_second_token_is_used_for_18_seconds_then_replaced():
    vt = VirtualTime()
    handler, grants = _mock_instance(lifetime=20)
    with _client(handler, clock=vt.clock, sleep=vt.sleep) as c:
        c.get_json(PATH)
        vt.now += 17.9
        c.get_json(PATH)
        assert len(grants) == 1
        vt.now += 0.2  # 18.1 s: inside the 2 s margin
        c.get_json(PATH)
    assert len(grants) == 2


def test_a_401_invalidates_the_token_and_the_request_is_sent_once_more():
    revoked = {"tok-1"}
    handler, grants = _mock_instance(valid=lambda t: t not in revoked)
    with _client(handler) as c:
        body = c.get_json(PATH)
    assert body["result"][0]["token"] == "tok-2" and len(grants) == 2


def test_a_second_401_after_the_refresh_is_a_fatal_error_naming_the_settings():
    handler, grants = _mock_instance(valid=lambda t: False)
    with _client(handler) as c, pytest.raises(ServiceNowAuthError) as exc:
        c.get_json(PATH)
    assert exc.value.fatal and "after one OAuth token refresh" in str(exc.value) and len(grants) == 2


def test_a_refused_token_request_is_fatal_and_never_repeated_by_the_other_threads():
    handler, grants = _mock_instance(token_status=401)
    errors: list[BaseException] = []
    with _client(handler, max_concurrency=4) as c:
        barrier = threading.Barrier(8)

        def read() -> None:
            barrier.wait()
            try:
                c.get_json(PATH)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(8)]
        [t.start() for t in threads]
        [t.join(30) for t in threads]
    assert len(errors) == 8 and all(isinstance(e, ServiceNowAuthError) and e.fatal for e in errors)
    assert "SERVICENOW_CLIENT_SECRET" in str(errors[0]) and "secret" not in str(errors[0]).replace("_SECRET", "")
    assert len(grants) == 1  # one refusal is final: nobody sends the same credentials again


def test_a_waiter_gives_up_after_its_bound_when_the_fetch_never_returns():
    release = threading.Event()

    def slow_fetch(refresh):
        release.wait(10)
        return Grant("tok", 1800, None)

    cache = TokenCache(slow_fetch, wait_timeout=0.2)
    fetcher = threading.Thread(target=cache.token)
    fetcher.start()
    try:
        while not cache._fetching:  # noqa: SLF001 - wait until the first thread is inside the fetch
            pass
        from connector.servicenow.errors import ServiceNowTransportError

        with pytest.raises(ServiceNowTransportError, match="another thread's OAuth token request"):
            cache.token()
    finally:
        release.set()
        fetcher.join(10)


# --- against the emulator: refresh tokens that expire and rotate, faults on /oauth_token.do ---------

def _password_client(servicenow, **kw):
    return servicenow.oauth_client(username="integration.user", password="demo-password-not-secret", **kw)


def test_a_rotated_refresh_token_is_kept_and_used_next_time(servicenow):
    servicenow.emu.set_faults({"rotate_refresh_tokens": True})
    with _password_client(servicenow) as c:
        for _ in range(4):
            c.get_json(PATH, {"sysparm_limit": 1})
            httpx.post(f"{servicenow.url}/_emulator/tokens/expire")
    grants = [(g["grant"], g["status"]) for g in servicenow.emu.token_grants]
    assert grants[0] == ("password", 200)
    assert grants[1:] == [("refresh_token", 200)] * 3  # each refresh used the newest refresh token


def test_an_expired_refresh_token_falls_back_to_a_full_grant(servicenow):
    with _password_client(servicenow) as c:
        c.get_json(PATH, {"sysparm_limit": 1})
        httpx.post(f"{servicenow.url}/_emulator/tokens/expire", params={"refresh": "true"})
        assert c.get_json(PATH, {"sysparm_limit": 1})["result"]
    grants = [(g["grant"], g["status"]) for g in servicenow.emu.token_grants]
    assert grants == [("password", 200), ("refresh_token", 401), ("password", 200)]


def test_token_endpoint_429_and_5xx_are_retried(servicenow):
    servicenow.emu.set_faults({"token_rate_429": 0.5, "token_rate_5xx": 0.4, "retry_after": 0.01, "seed": 3})
    with servicenow.oauth_client() as c:
        for _ in range(5):
            assert c.get_json(PATH, {"sysparm_limit": 1})["result"]
            httpx.post(f"{servicenow.url}/_emulator/tokens/expire")
    statuses = [g["status"] for g in servicenow.emu.token_grants]
    assert {429, 503} & set(statuses) and statuses.count(200) == 5


def test_a_short_token_lifetime_never_fetches_per_request(servicenow):
    servicenow.emu.set_faults({"token_ttl": 5})
    with servicenow.oauth_client(max_concurrency=8) as c:
        for _ in range(30):
            c.get_json(PATH, {"sysparm_limit": 1})
    assert len(servicenow.emu.token_grants) == 1
