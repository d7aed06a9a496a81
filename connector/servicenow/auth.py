"""ServiceNow credentials as ``httpx.Auth`` flows: Basic, or OAuth at /oauth_token.do (servicenow.md §3.1–3.2).

OAuth: password grant (with refresh token) when a username and password are configured next to
the client credentials, else the client-credentials grant.

How the OAuth flow cannot deadlock (the bug this design replaces: a thread holding a request slot
waited for the token lock while the token fetch waited for a slot):
- the flow runs in httpx's auth step, *before* the transport takes a request slot, so a thread
  that waits for a token holds nothing else;
- one thread fetches (single flight); the others wait for that one fetch on a condition, with a
  bound (``wait_timeout``), and share its result or its error;
- the token request has its own path (``TokenEndpoint``: its own connection pool, no request
  gate), so no number of busy request slots can starve it;
- the condition's lock is held only to read and set a few fields, never across the HTTP call.

Tokens are refreshed before they expire with a margin that scales with their lifetime (10 % of
``expires_in``, at most 60 s): a 20 s token is used for 18 s, a 30 min token for 29 min. A 401
invalidates the token it was sent with (not a newer one another thread already fetched), and the
request is sent once more with a fresh token; a second 401 goes back to the caller (fatal). A
refresh token that has expired or been revoked falls back to a full grant; a rotated one is kept.
Token requests that fail with 429, 5xx or a network error are retried like any other call.
Secrets live only in this module's objects and in request bodies; no message ever contains them.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from connector.deadline import Deadline
from connector.errors import ConfigError
from connector.http.retrying import RetrySettings, call_with_retries
from connector.http.transport import NOT_SENT
from connector.servicenow.errors import (
    ServiceNowAuthError,
    ServiceNowError,
    ServiceNowRateLimited,
    ServiceNowServerError,
    ServiceNowTransportError,
    retry_after_of,
)

TOKEN_PATH = "/oauth_token.do"
MAX_REFRESH_MARGIN = 60.0
REFRESH_SHARE = 0.10
DEFAULT_LIFETIME = 1800.0


def refresh_margin(expires_in: float) -> float:
    """How long before expiry a token is replaced: 10 % of its lifetime, at most 60 s."""
    return min(MAX_REFRESH_MARGIN, max(0.0, expires_in) * REFRESH_SHARE)


class BasicCredentials(httpx.Auth):
    kind = "basic"
    grant = "basic"

    def __init__(self, username: str, password: str) -> None:
        self._auth = httpx.BasicAuth(username, password)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self._auth.auth_flow(request)  # a 401 is final: nothing to refresh

    def __repr__(self) -> str:
        return "BasicCredentials(***)"

    def close(self) -> None:
        """Nothing to release: basic credentials open no connection of their own."""


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_in: float
    refresh_token: str | None


class TokenEndpoint:
    """POSTs form-encoded grants to /oauth_token.do on a client of its own (no request gate)."""

    def __init__(self, http: httpx.Client, client_id: str, client_secret: str, *, retry: RetrySettings,
                 sleep: Callable[[float], None] = time.sleep, deadline: Callable[[], Deadline] | None = None) -> None:
        self._http = http
        self._client_id, self._client_secret = client_id, client_secret
        self._retry = retry
        self._sleep = sleep
        self._deadline = deadline or Deadline.never

    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def _once(self, form: dict[str, str]) -> Grant:
        body = {"client_id": self._client_id, "client_secret": self._client_secret, **form}
        kw: dict[str, Any] = {"method": "POST", "path": TOKEN_PATH}
        try:
            resp = self._http.post(TOKEN_PATH, data=body, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ServiceNowTransportError(f"OAuth token request failed: {type(exc).__name__}",
                                           sent=not isinstance(exc, NOT_SENT), **kw) from None
        if resp.status_code == 429:
            raise ServiceNowRateLimited("OAuth token endpoint rate limited", status=429,
                                        retry_after=retry_after_of(resp), **kw)
        if resp.status_code >= 500:
            raise ServiceNowServerError("OAuth token endpoint failed", status=resp.status_code, **kw)
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code == 200 and not isinstance(data, dict):
            raise ServiceNowServerError("OAuth token endpoint answered 200 without a JSON object", status=200, **kw)
        data = data if isinstance(data, dict) else {}
        token = data.get("access_token")
        if resp.status_code != 200 or not isinstance(token, str) or not token:
            reason = data.get("error_description") or data.get("error") or f"HTTP {resp.status_code}"
            raise ServiceNowAuthError(
                f"OAuth token request refused ({reason}, grant {form['grant_type']}): check SERVICENOW_CLIENT_ID / "
                "SERVICENOW_CLIENT_SECRET (and SERVICENOW_USERNAME / SERVICENOW_PASSWORD for the password grant)",
                status=resp.status_code, **kw)
        try:
            expires_in = float(data.get("expires_in") or DEFAULT_LIFETIME)
        except (TypeError, ValueError):
            expires_in = DEFAULT_LIFETIME
        refresh = data.get("refresh_token")
        return Grant(token, expires_in, refresh if isinstance(refresh, str) and refresh else None)

    def request(self, form: dict[str, str]) -> Grant:
        """One grant, retried on 429, 5xx and network errors (a token request changes nothing)."""
        return call_with_retries(lambda: self._once(form), self._retry, sleep=self._sleep, deadline=self._deadline())


class TokenCache:
    """The current access token, fetched by one thread at a time (single flight)."""

    def __init__(self, fetch: Callable[[str | None], Grant], *, clock: Callable[[], float] = time.monotonic,
                 wait_timeout: float = 300.0) -> None:
        self._fetch = fetch  # refresh token (or None) -> Grant; does the HTTP call
        self._clock = clock
        self.wait_timeout = wait_timeout
        self._cond = threading.Condition(threading.Lock())
        self._token: str | None = None
        self._valid_until = 0.0
        self._refresh: str | None = None
        self._fetching = False
        self._round = 0  # fetches completed (successfully or not)
        self._last_error: BaseException | None = None
        self._refused: ServiceNowAuthError | None = None  # credentials refused: final for this client
        self.fetches = 0  # grants obtained (for figures and tests)

    def token(self) -> str:
        """A token valid for a while yet; fetches one if needed, or waits for the thread that is."""
        give_up = self._clock() + self.wait_timeout
        with self._cond:
            waited_for: int | None = None
            while True:
                if self._refused is not None:
                    raise copy.copy(self._refused)  # asking again would only be refused again
                if self._token is not None and self._clock() < self._valid_until:
                    return self._token
                if waited_for is not None and self._round > waited_for and self._last_error is not None:
                    raise copy.copy(self._last_error)  # the fetch we waited for failed: share its error
                if not self._fetching:
                    self._fetching = True
                    refresh = self._refresh
                    break
                waited_for = self._round if waited_for is None else waited_for
                left = give_up - self._clock()
                if left <= 0:
                    raise ServiceNowTransportError(
                        f"waited {self.wait_timeout:.0f} s for another thread's OAuth token request",
                        sent=False, method="POST", path=TOKEN_PATH)
                self._cond.wait(left)
        grant: Grant | None = None
        error: BaseException | None = None
        try:
            grant = self._fetch(refresh)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters below, then re-raised
            error = exc
        with self._cond:
            self._fetching = False
            self._round += 1
            self._last_error = error
            if grant is not None:
                self._token = grant.access_token
                self._valid_until = self._clock() + grant.expires_in - refresh_margin(grant.expires_in)
                if grant.refresh_token:  # rotated (or first) refresh token
                    self._refresh = grant.refresh_token
                self.fetches += 1
            elif isinstance(error, ServiceNowAuthError):
                if refresh is not None:
                    self._refresh = None  # expired or revoked: the next fetch makes a full grant
                else:
                    self._refused = error  # the credentials themselves were refused
            self._cond.notify_all()
        if error is not None:
            raise error
        assert grant is not None
        return grant.access_token

    def invalidate(self, token: str) -> None:
        """The server refused ``token`` (401): drop it, unless a newer one is already here."""
        with self._cond:
            if self._token == token:
                self._token = None
                self._valid_until = 0.0


class OAuthCredentials(httpx.Auth):
    kind = "oauth"

    def __init__(self, endpoint: TokenEndpoint, *, username: str | None = None, password: str | None = None,
                 clock: Callable[[], float] = time.monotonic, wait_timeout: float = 300.0) -> None:
        self._endpoint = endpoint
        self._username, self._password = username, password
        self.cache = TokenCache(self._grant, clock=clock, wait_timeout=wait_timeout)

    @property
    def grant(self) -> str:
        return "password" if self._username and self._password else "client_credentials"

    def __repr__(self) -> str:
        return f"OAuthCredentials(grant={self.grant}, ***)"

    def close(self) -> None:
        """Close the token endpoint's connections."""
        self._endpoint.close()

    @property
    def closed(self) -> bool:
        return self._endpoint.closed

    def _full_grant(self) -> Grant:
        form = {"grant_type": self.grant}
        if self.grant == "password":
            form.update(username=self._username or "", password=self._password or "")
        return self._endpoint.request(form)

    def _grant(self, refresh: str | None) -> Grant:
        if refresh:
            try:
                return self._endpoint.request({"grant_type": "refresh_token", "refresh_token": refresh})
            except ServiceNowAuthError:
                pass  # the refresh token expired or was revoked: a full grant instead
        return self._full_grant()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.cache.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        self.cache.invalidate(token)  # expired early, revoked, or the instance restarted
        token = self.cache.token()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("OAuthCredentials is synchronous only")  # pragma: no cover


Credentials = BasicCredentials | OAuthCredentials


def credentials_from(endpoint: Callable[[str, str], TokenEndpoint], *, username: str | None, password: str | None,
                     client_id: str | None, client_secret: str | None, clock: Callable[[], float] = time.monotonic,
                     wait_timeout: float = 300.0) -> Credentials:
    """``endpoint(client_id, client_secret)`` builds the token endpoint, only when OAuth is configured."""
    if client_id or client_secret:
        if not (client_id and client_secret):
            raise ConfigError("OAuth needs both SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET")
        return OAuthCredentials(endpoint(client_id, client_secret), username=username, password=password,
                                clock=clock, wait_timeout=wait_timeout)
    if username and password:
        return BasicCredentials(username, password)
    raise ConfigError("ServiceNow credentials missing: set SERVICENOW_USERNAME and SERVICENOW_PASSWORD "
                      "(or SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET for OAuth)")


__all__ = ["BasicCredentials", "Credentials", "Grant", "OAuthCredentials", "ServiceNowError", "TOKEN_PATH",
           "TokenCache", "TokenEndpoint", "credentials_from", "refresh_margin"]
