"""ServiceNowClient: auth, OAuth refresh, body validation, retry and no-retry decisions, no cookies."""

import threading

import httpx
import pytest

from connector.errors import ConfigError
from connector.http.nocookies import CookielessClient
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import (
    ServiceNowAuthError,
    ServiceNowBadRequest,
    ServiceNowHtmlResponse,
    ServiceNowNotFound,
    retry_after_of,
)
from tests.conftest import SN_FAST_RETRY, VirtualTime
from tests.wire_server import WireServer, answer

PATH = "/api/now/table/core_company"


def test_basic_auth_reads(sn):
    assert sn.get_json(PATH, {"sysparm_limit": 1})["result"]


def test_wrong_password_is_a_fatal_error_that_names_the_settings(servicenow):
    with servicenow.client(password="wrong") as c, pytest.raises(ServiceNowAuthError) as exc:
        c.get_json(PATH)
    assert exc.value.fatal and "SERVICENOW_PASSWORD" in str(exc.value) and "wrong" not in str(exc.value)


def test_oauth_client_credentials_reads(servicenow):
    with servicenow.oauth_client() as c:
        assert c.credentials.grant == "client_credentials"
        assert c.get_json(PATH, {"sysparm_limit": 1})["result"]


def test_oauth_password_grant_refreshes_after_the_token_expires(servicenow):
    with servicenow.oauth_client(username="integration.user", password="demo-password-not-secret") as c:
        c.get_json(PATH, {"sysparm_limit": 1})
        httpx.post(f"{servicenow.url}/_emulator/tokens/expire")
        assert c.get_json(PATH, {"sysparm_limit": 1})["result"]
    grants = [r for r in servicenow.emu.log if r["path"] == "/api/now/table/core_company"]
    assert [g["status"] for g in grants] == [200, 401, 200]


def test_a_401_after_one_refresh_is_fatal(servicenow):
    with servicenow.oauth_client() as c:
        c.get_json(PATH, {"sysparm_limit": 1})
        httpx.post(f"{servicenow.url}/_emulator/credentials", json={"client_secret": "rotated"})
        httpx.post(f"{servicenow.url}/_emulator/tokens/expire")
        with pytest.raises(ServiceNowAuthError) as exc:
            c.get_json(PATH)
    assert "SERVICENOW_CLIENT_SECRET" in str(exc.value) and "rotated" not in str(exc.value)


def test_oauth_secret_is_not_in_repr(servicenow):
    with servicenow.oauth_client() as c:
        assert "secret" not in repr(c).lower().replace("client_secret", "")


def test_missing_credentials_is_a_config_error():
    with pytest.raises(ConfigError, match="SERVICENOW_USERNAME"):
        ServiceNowClient("https://x.service-now.com")


def test_plain_http_to_a_remote_instance_is_refused():
    with pytest.raises(ConfigError, match="plain http"):
        ServiceNowClient("http://acme.service-now.com", username="u", password="p")


def test_429_waits_exactly_retry_after(servicenow):
    servicenow.emu.set_faults({"rate_429": 0.5, "retry_after": 3, "seed": 4})
    vt = VirtualTime()
    with servicenow.client(sleep=vt.sleep, clock=vt.clock) as c:
        for _ in range(6):
            c.get_json(PATH, {"sysparm_limit": 1})
    assert vt.slept and set(vt.slept) == {3.0}


def test_429_without_headers_uses_the_default_wait(servicenow):
    servicenow.emu.set_faults({"rate_429_bare": 0.5, "seed": 4})
    vt = VirtualTime()
    with servicenow.client(sleep=vt.sleep, clock=vt.clock) as c:
        for _ in range(6):
            c.get_json(PATH, {"sysparm_limit": 1})
    assert vt.slept and set(vt.slept) == {SN_FAST_RETRY.rate_limit_default_wait}


def test_retry_after_falls_back_to_the_rate_limit_reset_header():
    resp = httpx.Response(429, headers={"X-RateLimit-Reset": "1000"})
    assert retry_after_of(resp, now=990.0) == 10.0


@pytest.mark.parametrize("fault", ["rate_5xx", "rate_202", "rate_null"])
def test_transient_answers_are_retried_until_a_good_body(servicenow, fault):
    servicenow.emu.set_faults({fault: 0.5, "seed": 11})
    with servicenow.client() as c:
        for _ in range(6):
            assert isinstance(c.get_json(PATH, {"sysparm_limit": 2})["result"], list)
    assert any(e["fault"] for e in servicenow.emu.log)


def test_a_transaction_cancel_on_a_one_off_read_is_retried(servicenow, sn):
    servicenow.emu.set_faults({"rate_truncated": 0.5, "rate_500": 0.2, "seed": 5})
    for _ in range(5):
        assert sn.get_json(PATH, {"sysparm_limit": 1})["result"]
    assert any(e["fault"] in ("truncated", "500") for e in servicenow.emu.log)


def test_a_paging_caller_gets_the_cancel_at_once_to_shrink_its_page(servicenow, sn):
    from connector.servicenow.errors import ServiceNowQuotaCancelled

    servicenow.emu.set_faults({"rate_truncated": 1.0})
    with pytest.raises(ServiceNowQuotaCancelled):
        sn.get_json(PATH, retry_cancels=False)
    assert len(servicenow.emu.log) == 1


def test_html_instead_of_json_ends_in_a_clear_fatal_error(servicenow):
    servicenow.emu.set_faults({"html_always": True})
    with servicenow.client() as c, pytest.raises(ServiceNowHtmlResponse) as exc:
        c.get_json(PATH)
    assert exc.value.fatal and "hibernating" in str(exc.value)


def test_400_and_404_are_not_retried(servicenow, sn):
    with pytest.raises(ServiceNowBadRequest):
        sn.get_json("/api/now/table/no_such_table")
    with pytest.raises(ServiceNowNotFound):
        sn.get_json("/api/now/table/core_company/" + "0" * 32)
    assert len(servicenow.emu.log) == 2


def test_no_session_cookie_is_kept_so_concurrent_requests_never_queue(servicenow, sn):
    servicenow.emu.set_faults({"latency_ms": 100})
    statuses = []

    def read():
        sn.get_json("/api/now/table/cmn_department")

    threads = [threading.Thread(target=read) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    statuses = [e["status"] for e in servicenow.emu.log]
    assert statuses == [200] * 6 and len(sn._http.cookies) == 0


def test_request_hook_never_sees_credentials(servicenow):
    entries = []
    with servicenow.oauth_client(request_hook=entries.append) as c:
        c.get_json(PATH, {"sysparm_limit": 1})
    dumped = " ".join(e.model_dump_json() for e in entries)
    assert entries and "demo-client-secret" not in dumped and "Bearer" not in dumped


def test_a_set_cookie_answer_is_neither_kept_nor_sent_back():
    """Checked on the wire: the client whose jar refuses everything never sends a Cookie header."""
    server = WireServer(lambda sock, request, body: sock.sendall(
        answer(b"{}", extra=b"Set-Cookie: JSESSIONID=abc; Path=/\r\n")) or True)
    try:
        with CookielessClient() as c:
            c.get(server.url("/a"))
            c.get(server.url("/b"))
        assert len(c.cookies) == 0
        assert all(name.lower() != b"cookie" for request, _ in server.requests for name, _ in request.headers)
    finally:
        server.close()
