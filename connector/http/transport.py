"""The transport every request of both clients goes through: one HTTP exchange per call.

httpx separates the client (building requests, authentication, redirects) from the transport
(sending one request). Everything that concerns a single exchange lives here, once for both
APIs: the request gate (a slot held only for the exchange itself, so an OAuth token fetch that
runs in the auth flow *before* the transport never nests inside a held slot), the call count,
the request log (secrets redacted), the shared pause after a 429, and socket timeouts capped at
the run's deadline. The clients keep what is specific to their API: retry decisions, error
envelopes, response models.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping

import httpx

from connector.deadline import Deadline
from connector.http.gate import RequestGate
from connector.http.requestlog import CallCounter, RequestHook, RequestLogEntry, redact_key
from connector.http.safety import is_loopback_host
from connector.http.stdlib_transport import StdlibTransport

USER_AGENT = "servicenow-coverbase-connector/0.1"

# httpx errors raised before a single byte of the request left this machine: safe to re-send
# any request, even a non-idempotent write.
NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                                         httpx.UnsupportedProtocol)

# Which transport carries direct (unproxied) requests: "stdlib" (connector/http/stdlib_transport.py,
# half the CPU per request) or "httpcore" (httpx's default). An escape hatch, not a tuning knob.
ENGINE_VARIABLE = "CONNECTOR_HTTP_ENGINE"
ENGINES = ("stdlib", "httpcore")

REQUEST_ID_HEADERS = ("x-request-id", "x-correlation-id", "x-amzn-requestid")

ATTEMPT = "connector.attempt"
SMALL_BODY = 64 * 1024  # request extension: which attempt of a retried call this is


@functools.lru_cache(maxsize=8)
def tls_verify(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification is always on; a private CA bundle may be given, never ``verify=False``.

    One context per bundle for the whole process: building one loads the CA store (tens of ms of
    CPU), and every client of every step would otherwise build two. An ``SSLContext`` may be
    shared by connections on many threads."""
    return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else httpx.create_ssl_context()


def http_engine(env: Mapping[str, str] | None = None) -> str:
    """The transport engine the environment asks for (``CONNECTOR_HTTP_ENGINE``), "stdlib" by default."""
    value = (os.environ if env is None else env).get(ENGINE_VARIABLE, "").strip().lower() or "stdlib"
    if value not in ENGINES:
        raise ValueError(f"{ENGINE_VARIABLE}={value!r} is not one of {', '.join(ENGINES)}")
    return value


def request_id_of(resp: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if name in resp.headers:
            return resp.headers[name]
    return None


def proxy_for(url: httpx.URL, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``,
    lower case too), or None when there is none or ``NO_PROXY`` exempts the host."""
    proxies = urllib.request.getproxies_environment() if env is None else {
        k.lower()[:-6]: v for k, v in env.items() if k.lower().endswith("_proxy") and v}
    proxy = proxies.get(url.scheme) or proxies.get("all")
    host = url.host.lower()
    # A proxy's loopback is not ours: the local emulators and a local Coverbase stay direct.
    if not proxy or is_loopback_host(host):
        return None
    no_proxy = proxies.get("no", "")
    if no_proxy == "*" or any(host == d or host.endswith("." + d.lstrip(".")) or (d.startswith(".") and host == d[1:])
                              for d in (x.strip().lower() for x in no_proxy.split(",")) if d):
        return None
    return proxy


class ProxyAwareTransport(httpx.BaseTransport):
    """Direct connections, or through the proxy the environment names for each request's host.

    httpx ignores proxy variables once a client is given its own transport (ours carries the
    request gate), so the routing the environment asks for is done here, per request: corporate
    networks reach Coverbase and ServiceNow through a proxy, the presigned storage host may not."""

    def __init__(self, *, verify: ssl.SSLContext | bool, max_connections: int,
                 env: Mapping[str, str] | None = None) -> None:
        self._verify, self._env = verify, env
        keepalive = max(1, max_connections // 2)
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
        self.engine = http_engine(env)
        self._direct: httpx.BaseTransport = (
            StdlibTransport(verify=verify, max_connections=max_connections, max_keepalive=keepalive)
            if self.engine == "stdlib" else httpx.HTTPTransport(verify=verify, limits=self._limits))
        self._proxied: dict[str, httpx.HTTPTransport] = {}
        self._routes: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()  # a leaf: guards the two dicts, never held across I/O

    def _route(self, url: httpx.URL) -> httpx.BaseTransport:
        key = (url.scheme, url.host)
        with self._lock:
            if key not in self._routes:
                self._routes[key] = proxy_for(url, self._env)
            proxy = self._routes[key]
            if proxy is None:
                return self._direct
            if proxy not in self._proxied:
                self._proxied[proxy] = httpx.HTTPTransport(verify=self._verify, limits=self._limits, proxy=proxy)
            return self._proxied[proxy]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._route(request.url).handle_request(request)

    def close(self) -> None:
        self._direct.close()
        for t in self._proxied.values():
            t.close()


def http_transport(*, verify: ssl.SSLContext, max_connections: int) -> httpx.BaseTransport:
    return ProxyAwareTransport(verify=verify, max_connections=max_connections)


class ApiTransport(httpx.BaseTransport):
    """Wraps a real transport (or ``httpx.MockTransport`` in unit tests).

    ``gate`` is None for a path that must never wait for a request slot (ServiceNow's token
    endpoint). ``hook`` returns the client's current request-log hook (or None: then no log entry
    is built at all). ``retry_after`` reads the wait a 429 asks for (header or body); ``path_label``
    names the request in the log (presigned URLs carry a signature: never logged)."""

    def __init__(self, inner: httpx.BaseTransport, *, api: str, calls: CallCounter,
                 gate: RequestGate | None = None, hook: Callable[[], RequestHook | None] | None = None,
                 retry_after: Callable[[httpx.Response], float | None] | None = None, default_wait: float = 1.0,
                 path_label: Callable[[httpx.Request], str] | None = None,
                 deadline: Deadline | None = None) -> None:
        self.inner = inner
        self.api = api
        self.calls = calls
        self.gate = gate
        self.hook = hook
        self.retry_after = retry_after
        self.default_wait = default_wait
        self.path_label = path_label
        self.deadline = deadline or Deadline.never()

    def _cap_timeouts(self, request: httpx.Request) -> None:
        timeouts = request.extensions.get("timeout")
        if isinstance(timeouts, dict):
            request.extensions["timeout"] = {k: self.deadline.cap(v) for k, v in timeouts.items()}

    def _log(self, request: httpx.Request, status: int | None, t0: float, error: str | None,
             request_id: str | None = None) -> None:
        hook = self.hook() if self.hook is not None else None
        if hook is None:
            return
        hook(RequestLogEntry(
            api=self.api, method=request.method,
            path=self.path_label(request) if self.path_label else request.url.path,
            status=status, duration_ms=round((time.monotonic() - t0) * 1000, 2),
            attempt=int(request.extensions.get(ATTEMPT, 1)),
            idempotency_key=redact_key(request.headers.get("idempotency-key")), error=error,
            request_id=request_id))

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        self.calls.add(request.method)
        return self.inner.handle_request(request)

    @staticmethod
    def _small(request: httpx.Request) -> bool:
        """Whether the exchange's time says something about the server's queue (not an upload)."""
        length = request.headers.get("content-length")
        return length is None or (length.isdigit() and int(length) <= SMALL_BODY)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.deadline.check(f"about to send {request.method} {request.url.path} to {self.api}")
        self._cap_timeouts(request)
        t0 = time.monotonic()
        try:
            if self.gate is None:
                response = self._exchange(request)
            else:
                with self.gate.slot() as ticket:
                    sent = time.monotonic()
                    response = self._exchange(request)
                    ticket.answered = True
                    ticket.rate_limited = response.status_code == 429
                    if self._small(request) and response.status_code < 500:
                        ticket.latency = time.monotonic() - sent
        except httpx.HTTPError as exc:
            self._log(request, None, t0, type(exc).__name__)
            raise
        status = response.status_code
        if status == 429 and self.gate is not None:
            wait = self.retry_after(response) if self.retry_after else None
            self.gate.pause_for(self.default_wait if wait is None else wait,
                                f"{self.api} answered 429 to {request.method} {request.url.path}")
        self._log(request, status, t0, None if status < 400 else f"HTTP {status}", request_id_of(response))
        return response

    def close(self) -> None:
        self.inner.close()
