"""ServiceNowClient: transport, authentication and retries for every ServiceNow read.

- no cookies at all: a shared JSESSIONID serialises concurrent requests on one server session and
  causes silent 202 drops (servicenow.md §3.1, Pitfall 10);
- every 200 body is validated (``result`` present, no ``error``, not truncated, not ``null``,
  not HTML); those and 202, 429 and 5xx are retried; 400/403/404 never are;
- 429 waits exactly ``Retry-After`` (else until ``X-RateLimit-Reset``), outside the retry budget;
- a 401 refreshes an OAuth token once, then fails with a clear fatal error.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from connector.errors import ConfigError
from connector.http.gate import RequestGate
from connector.http.nocookies import without_cookies
from connector.http.requestlog import CallCounter, RequestHook, RequestLogEntry
from connector.http.retrying import RetrySettings, call_with_retries
from connector.http.safety import require_safe_base_url
from connector.servicenow.auth import TOKEN_PATH, credentials_from
from connector.servicenow.errors import (
    ServiceNowAuthError,
    ServiceNowError,
    ServiceNowQuotaCancelled,
    ServiceNowRateLimited,
    ServiceNowTransportError,
    error_from_response,
    validate_body,
)

USER_AGENT = "servicenow-coverbase-connector/0.1"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ServiceNowClient:
    def __init__(
        self,
        instance_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        timeout: float = 120.0,
        max_concurrency: int = 4,
        rate_limit_per_second: float | None = None,
        retry: RetrySettings | None = None,
        request_hook: RequestHook | None = None,
        ca_bundle: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep=time.sleep,
        clock=time.monotonic,
    ) -> None:
        self.instance_url = require_safe_base_url(instance_url, "SERVICENOW_INSTANCE_URL")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        # Longer than ServiceNow's 60 s transaction quota, so the server cancels first and says so.
        self._http = without_cookies(httpx.Client(
            base_url=self.instance_url, timeout=httpx.Timeout(timeout, connect=15.0), verify=verify,
            transport=transport, follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max_concurrency * 2, max_keepalive_connections=max_concurrency),
        ))
        self.credentials = credentials_from(self._post_token, username=username, password=password,
                                            client_id=client_id, client_secret=client_secret)
        self.gate = RequestGate(rate_limit_per_second=rate_limit_per_second, max_concurrency=max_concurrency,
                                sleep=sleep, clock=clock)
        self.retry = retry or RetrySettings(max_retries=6, backoff_initial=0.5, backoff_max=30.0, max_total_wait=600.0)
        self.request_hook = request_hook
        self.calls = CallCounter()
        self._sleep = sleep
        self.last_server_date: str | None = None

    def __repr__(self) -> str:
        return f"ServiceNowClient({self.instance_url!r}, {self.credentials!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceNowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post_token(self, form: dict[str, str]) -> httpx.Response:
        with self.gate.slot():
            self.calls.add("POST")
            return self._http.post(TOKEN_PATH, data=form, headers={"Accept": "application/json"})

    def _log(self, method: str, path: str, status: int | None, t0: float, attempt: int, error: str | None) -> None:
        if self.request_hook is not None:
            self.request_hook(RequestLogEntry(api="servicenow", method=method, path=path, status=status,
                                              duration_ms=round((time.monotonic() - t0) * 1000, 2), attempt=attempt,
                                              error=error))

    def _send(self, path: str, params: dict[str, Any] | None, *, stream: bool, accept: str) -> httpx.Response:
        """One attempt with the current credentials, refreshing an OAuth token once on 401."""
        refreshed = False
        while True:
            headers = {"Authorization": self.credentials.header(), "Accept": accept}
            request = self._http.build_request("GET", path, params=params, headers=headers)
            t0 = time.monotonic()
            try:
                resp = self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                self._log("GET", path, None, t0, 1, type(exc).__name__)
                raise ServiceNowTransportError(f"{type(exc).__name__}: {exc}".rstrip(": "),
                                               sent=not isinstance(exc, _NOT_SENT), method="GET", path=path) from None
            if resp.status_code == 401 and not refreshed and self.credentials.invalidate():
                resp.close()
                refreshed = True
                continue
            if resp.headers.get("date"):
                self.last_server_date = resp.headers["date"]
            return resp

    def _fail(self, resp: httpx.Response, path: str) -> ServiceNowError:
        err = error_from_response(resp, "GET", path)
        if isinstance(err, ServiceNowAuthError):
            how = ("after one OAuth token refresh" if self.credentials.kind == "oauth"
                   else "check SERVICENOW_USERNAME / SERVICENOW_PASSWORD")
            err = ServiceNowAuthError(f"ServiceNow rejected the credentials ({err.message}); {how}",
                                      status=401, method="GET", path=path)
        return err

    def get_json(self, path: str, params: dict[str, Any] | None = None, *, retry_cancels: bool = True) -> dict[str, Any]:
        """GET a Table/Attachment API path; return the validated JSON body (``{"result": ...}``).

        A transaction-quota cancel is retried like any transient answer, unless the caller
        pages and prefers to shrink the page instead (``retry_cancels=False``)."""
        attempt = 0

        def once() -> dict[str, Any]:
            nonlocal attempt
            attempt += 1
            with self.gate.slot():
                self.calls.add("GET")
                t0 = time.monotonic()
                resp = self._send(path, params, stream=False, accept="application/json")
            if resp.status_code == 200:
                try:
                    body = validate_body(resp, "GET", path)
                except ServiceNowError as exc:
                    self._log("GET", path, 200, t0, attempt, exc.kind)
                    raise
                self._log("GET", path, 200, t0, attempt, None)
                return body
            err = self._fail(resp, path)
            self._log("GET", path, resp.status_code, t0, attempt, err.kind)
            if isinstance(err, ServiceNowRateLimited):
                self.gate.pause_for(err.retry_after if err.retry_after is not None else self.retry.rate_limit_default_wait)
            raise err

        def once_retrying_cancels() -> dict[str, Any]:
            try:
                return once()
            except ServiceNowQuotaCancelled as exc:
                exc.retryable = True
                raise

        return call_with_retries(once_retrying_cancels if retry_cancels else once, self.retry, sleep=self._sleep)

    @contextmanager
    def stream(self, path: str) -> Iterator[httpx.Response]:
        """Open a streamed GET (attachment bytes); retries apply until the status line arrives."""
        attempt = 0

        def open_once() -> httpx.Response:
            nonlocal attempt
            attempt += 1
            t0 = time.monotonic()
            with self.gate.slot():
                self.calls.add("GET")
                resp = self._send(path, None, stream=True, accept="*/*")
            if resp.status_code == 200 and "html" not in resp.headers.get("content-type", "").lower():
                self._log("GET", path, 200, t0, attempt, None)
                return resp
            resp.read()
            resp.close()
            if resp.status_code == 200:
                validate_body(resp, "GET", path)  # raises the HTML error
            err = self._fail(resp, path)
            self._log("GET", path, resp.status_code, t0, attempt, err.kind)
            if isinstance(err, ServiceNowRateLimited):
                self.gate.pause_for(err.retry_after if err.retry_after is not None else self.retry.rate_limit_default_wait)
            raise err

        resp = call_with_retries(open_once, self.retry, sleep=self._sleep)
        try:
            yield resp
        finally:
            resp.close()

    def send_write(self, method: str, path: str, *, json: dict[str, Any],
                   params: dict[str, Any] | None = None) -> httpx.Response:
        """One write attempt (PATCH/PUT), never retried here: ServiceNow writes are not idempotent
        (journal fields append), so the caller reads back before sending again
        (``connector/servicenow/writer.py``). A 401 refreshes an OAuth token once (nothing was
        processed). A lost answer raises ServiceNowTransportError; ``sent`` says it may have landed."""
        refreshed = False
        while True:
            auth = self.credentials.header()  # outside the slot: a token refresh takes a slot itself
            with self.gate.slot():
                self.calls.add(method)
                t0 = time.monotonic()
                try:
                    resp = self._http.request(method, path, params=params, json=json, headers={
                        "Authorization": auth, "Accept": "application/json", "Content-Type": "application/json"})
                except httpx.HTTPError as exc:
                    self._log(method, path, None, t0, 1, type(exc).__name__)
                    raise ServiceNowTransportError(f"{type(exc).__name__}: {exc}".rstrip(": "),
                                                   sent=not isinstance(exc, _NOT_SENT), method=method,
                                                   path=path) from None
            self._log(method, path, resp.status_code, t0, 1, None if resp.is_success else f"HTTP {resp.status_code}")
            if resp.status_code == 401 and not refreshed and self.credentials.invalidate():
                refreshed = True
                continue
            return resp


def client_from_env(env: dict[str, str], **kw: Any) -> ServiceNowClient:
    url = env.get("SERVICENOW_INSTANCE_URL", "")
    if not url:
        raise ConfigError("SERVICENOW_INSTANCE_URL is not set")
    return ServiceNowClient(url, username=env.get("SERVICENOW_USERNAME") or None,
                            password=env.get("SERVICENOW_PASSWORD") or None,
                            client_id=env.get("SERVICENOW_CLIENT_ID") or None,
                            client_secret=env.get("SERVICENOW_CLIENT_SECRET") or None, **kw)
