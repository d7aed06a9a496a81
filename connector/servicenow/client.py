"""ServiceNowClient: transport, authentication and retries for every ServiceNow read.

- every exchange goes through ``ApiTransport`` (``connector/http/transport.py``): a request slot
  held for the exchange only, the call count, the request log, the shared 429 pause, socket
  timeouts capped at the run's deadline;
- authentication is an ``httpx.Auth`` flow (``connector/servicenow/auth.py``) that runs before the
  transport: Basic, or OAuth whose token fetch has its own path and never waits inside a slot;
  a 401 refreshes the token once, then fails with a clear fatal error;
- no cookies at all: a shared JSESSIONID serialises concurrent requests on one server session and
  causes silent 202 drops (servicenow.md §3.1, Pitfall 10);
- every 200 of a JSON endpoint is validated (``result`` present, no ``error``, not truncated, not
  ``null``, not HTML); those and 202, 429 and 5xx are retried; 400/403/404 never are. File bodies
  (attachments) are bytes: whatever their content type, only their size and hash decide;
- 429 waits exactly ``Retry-After`` (else until ``X-RateLimit-Reset``), outside the retry budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Unpack

import httpx

from connector.errors import ConfigError
from connector.http.nocookies import CookielessClient
from connector.http.plumbing import HttpOptions, PlumbedClient, Plumbing
from connector.http.requestlog import RequestHook
from connector.http.retrying import RetrySettings, call_with_retries
from connector.http.safety import require_safe_base_url
from connector.http.transport import ATTEMPT, NOT_SENT, USER_AGENT
from connector.servicenow.auth import Credentials, TokenEndpoint, credentials_from
from connector.servicenow.errors import (
    ServiceNowAuthError,
    ServiceNowError,
    ServiceNowQuotaCancelled,
    ServiceNowTransportError,
    error_from_response,
    retry_after_of,
    validate_body,
)

API = "servicenow"


class ServiceNowClient(PlumbedClient):
    def __init__(
        self,
        instance_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        credentials_hint: str = "SERVICENOW_USERNAME / SERVICENOW_PASSWORD",
        **options: Unpack[HttpOptions],
    ) -> None:
        self.instance_url = require_safe_base_url(instance_url, "SERVICENOW_INSTANCE_URL")
        self.credentials_hint = credentials_hint  # the settings a 401 points at (the write-back has its own)
        self.request_hook: RequestHook | None = options.get("request_hook")
        self.plumbing = Plumbing(options, name="ServiceNow", api=API, default_concurrency=4,
                                 default_retry=RetrySettings(max_retries=6, backoff_initial=0.5, backoff_max=30.0,
                                                             max_total_wait=600.0),
                                 hook=lambda: self.request_hook, retry_after=retry_after_of)
        p = self.plumbing
        self.retry, self.calls, self.gate, self._sleep = p.retry, p.calls, p.gate, p.sleep
        # The token endpoint: its own connections and no request gate, so busy slots never starve it.
        token_transport = p.ungated(calls=self.calls, max_connections=2)

        def token_endpoint(cid: str, secret: str) -> TokenEndpoint:
            # Longer than ServiceNow's 60 s transaction quota, so the server cancels first and says so.
            http = CookielessClient(base_url=self.instance_url, timeout=p.timeouts, transport=token_transport,
                                follow_redirects=False, headers={"User-Agent": USER_AGENT})
            return TokenEndpoint(http, cid, secret, retry=self.retry, sleep=p.sleep, deadline=lambda: self.deadline)

        self.credentials: Credentials = credentials_from(token_endpoint, username=username, password=password,
                                                         client_id=client_id, client_secret=client_secret,
                                                         clock=p.clock)
        self._http = CookielessClient(base_url=self.instance_url, timeout=p.timeouts, transport=p.transport,
                                  auth=self.credentials, follow_redirects=False,
                                  headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        self.last_server_date: str | None = None

    def __repr__(self) -> str:
        return f"ServiceNowClient({self.instance_url!r}, {self.credentials!r})"

    def close(self) -> None:
        self._http.close()
        self.credentials.close()


    def _send(self, path: str, params: dict[str, Any] | None, *, stream: bool, accept: str,
              attempt: int) -> httpx.Response:
        """One attempt (the auth flow may add a token fetch and one 401 refresh)."""
        request = self._http.build_request("GET", path, params=params, headers={"Accept": accept},
                                           extensions={ATTEMPT: attempt})
        try:
            resp = self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise ServiceNowTransportError(f"{type(exc).__name__}: {exc}".rstrip(": "),
                                           sent=not isinstance(exc, NOT_SENT), method="GET", path=path) from None
        if resp.headers.get("date"):
            self.last_server_date = resp.headers["date"]
        return resp

    def _fail(self, resp: httpx.Response, path: str) -> ServiceNowError:
        err = error_from_response(resp, "GET", path)
        if isinstance(err, ServiceNowAuthError):
            how = ("after one OAuth token refresh" if self.credentials.kind == "oauth"
                   else f"check {self.credentials_hint}")
            err = ServiceNowAuthError(f"ServiceNow rejected the credentials ({err.message}); {how}",
                                      status=401, method="GET", path=path)
        return err

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        return call_with_retries(fn, self.retry, sleep=self._sleep, deadline=self.deadline)

    def get_json(self, path: str, params: dict[str, Any] | None = None, *,
                 retry_cancels: bool = True) -> dict[str, Any]:
        """GET a Table/Attachment API path; return the validated JSON body (``{"result": ...}``).

        A transaction-quota cancel is retried like any transient answer, unless the caller
        pages and prefers to shrink the page instead (``retry_cancels=False``)."""
        attempt = 0

        def once() -> dict[str, Any]:
            nonlocal attempt
            attempt += 1
            resp = self._send(path, params, stream=False, accept="application/json", attempt=attempt)
            if resp.status_code == 200:
                return validate_body(resp, "GET", path)
            raise self._fail(resp, path)

        def once_retrying_cancels() -> dict[str, Any]:
            try:
                return once()
            except ServiceNowQuotaCancelled as exc:
                exc.retryable = True
                raise

        return self._retrying(once_retrying_cancels if retry_cancels else once)

    @contextmanager
    def stream(self, path: str) -> Iterator[httpx.Response]:
        """Open a streamed GET of a file body (attachment bytes); retries apply until the status line.

        The body is the file, whatever content type the attachment declares (a saved web page is
        ``text/html``): it is never judged as an API answer. A hibernating instance that answers a
        login page instead is caught by the caller's size and sha256 check."""
        attempt = 0

        def open_once() -> httpx.Response:
            nonlocal attempt
            attempt += 1
            resp = self._send(path, None, stream=True, accept="*/*", attempt=attempt)
            if resp.status_code == 200:
                return resp
            resp.read()
            resp.close()
            raise self._fail(resp, path)

        resp = self._retrying(open_once)
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
        request = self._http.build_request(method, path, params=params, json=json, extensions={ATTEMPT: 1},
                                           headers={"Accept": "application/json", "Content-Type": "application/json"})
        try:
            # The auth flow adds the token (fetched before any slot is taken) and, on a 401, sends
            # once more with a fresh one: a 401 means nothing was processed.
            return self._http.send(request)
        except httpx.HTTPError as exc:
            raise ServiceNowTransportError(f"{type(exc).__name__}: {exc}".rstrip(": "),
                                           sent=not isinstance(exc, NOT_SENT), method=method, path=path) from None


def client_from_env(env: dict[str, str], **kw: Any) -> ServiceNowClient:
    url = env.get("SERVICENOW_INSTANCE_URL", "")
    if not url:
        raise ConfigError("SERVICENOW_INSTANCE_URL is not set")
    return ServiceNowClient(url, username=env.get("SERVICENOW_USERNAME") or None,
                            password=env.get("SERVICENOW_PASSWORD") or None,
                            client_id=env.get("SERVICENOW_CLIENT_ID") or None,
                            client_secret=env.get("SERVICENOW_CLIENT_SECRET") or None, **kw)
