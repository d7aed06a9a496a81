"""Requests go through the proxy the environment names, host by host.

httpx stops reading HTTP(S)_PROXY once a client gets its own transport, and both clients
need their own (it carries the request gate), so a corporate proxy would be silently
bypassed. These tests pin the routing the transport does instead.
"""

from __future__ import annotations

import http.server
import threading

import httpx
import pytest

from connector.http.transport import ProxyAwareTransport, proxy_for

ENV = {"HTTPS_PROXY": "http://proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3129",
       "NO_PROXY": "storage.example.com,.internal.example,  Direct.Example.org "}


@pytest.mark.parametrize("url,expected", [
    ("https://acme.coverbase.example/api/v1/vendors", "http://proxy.corp:3128"),
    ("http://acme.service-now.example/api/now/table/x", "http://proxy.corp:3129"),
    ("https://storage.example.com/bucket/key", None),            # exact NO_PROXY entry
    ("https://a.storage.example.com/bucket/key", None),          # subdomain of an entry
    ("https://files.internal.example/x", None),                  # leading-dot entry
    ("https://internal.example/x", None),                        # leading dot also covers the bare domain
    ("https://direct.example.org/x", None),                      # case and spaces ignored
    ("https://notstorage.example.com/x", "http://proxy.corp:3128"),  # suffix is not a subdomain
    ("http://127.0.0.1:8080/x", None),                           # loopback never proxied
    ("http://localhost:8080/x", None),
    ("http://[::1]:8080/x", None),
])
def test_proxy_for_follows_proxy_and_no_proxy_variables(url, expected):
    assert proxy_for(httpx.URL(url), ENV) == expected


def test_all_proxy_is_the_fallback_and_lower_case_names_count():
    env = {"all_proxy": "http://fallback:8080"}
    assert proxy_for(httpx.URL("https://x.example/"), env) == "http://fallback:8080"


def test_no_proxy_star_disables_every_proxy():
    assert proxy_for(httpx.URL("https://x.example/"), {**ENV, "NO_PROXY": "*"}) is None


def test_no_variables_means_direct():
    assert proxy_for(httpx.URL("https://x.example/"), {}) is None


class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """Stands in for a proxy: answers absolute-form requests itself and records them."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server naming)
        type(self).seen.append(self.path)
        body = b'{"via":"proxy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_request_travels_through_the_proxy_over_real_http():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proxy = f"http://127.0.0.1:{server.server_address[1]}"
        transport = ProxyAwareTransport(verify=True, max_connections=2, env={"HTTP_PROXY": proxy})
        with httpx.Client(transport=transport, timeout=5) as client:
            resp = client.get("http://coverbase.example/api/v1/vendors?limit=1")
        assert resp.json() == {"via": "proxy"}
        assert _ForwardProxy.seen == ["http://coverbase.example/api/v1/vendors?limit=1"]
    finally:
        server.shutdown()
        server.server_close()


def test_clients_default_transport_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert proxy_for(httpx.URL("https://acme.coverbase.example/")) == "http://proxy.corp:3128"


@pytest.mark.parametrize("engine", ["stdlib", "httpcore"])
def test_either_engine_carries_direct_requests(engine, coverbase):
    transport = ProxyAwareTransport(verify=True, max_connections=2, env={"CONNECTOR_HTTP_ENGINE": engine})
    assert transport.engine == engine
    with httpx.Client(transport=transport, base_url=coverbase.url) as c:
        assert c.get("/v1/utils/authtest", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_an_unknown_engine_is_refused_by_name():
    with pytest.raises(ValueError, match="CONNECTOR_HTTP_ENGINE='curl'"):
        ProxyAwareTransport(verify=True, max_connections=2, env={"CONNECTOR_HTTP_ENGINE": "curl"})
