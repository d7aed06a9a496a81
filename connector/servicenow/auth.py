"""ServiceNow credentials: Basic, or OAuth at /oauth_token.do (servicenow.md §3.1–3.2).

OAuth: password grant (with refresh token) when a username and password are configured next
to the client credentials, else the client-credentials grant. Tokens are cached until 60 s
before ``expires_in``; a 401 on a request invalidates the token so the client refreshes once.
Secrets live only in this object and in request bodies; no message ever contains them.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

import httpx

from connector.errors import ConfigError
from connector.servicenow.errors import ServiceNowAuthError, ServiceNowServerError, ServiceNowTransportError

TOKEN_PATH = "/oauth_token.do"
REFRESH_MARGIN = 60.0


class BasicCredentials:
    kind = "basic"

    def __init__(self, username: str, password: str) -> None:
        self._header = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def header(self) -> str:
        return self._header

    def invalidate(self) -> bool:
        return False  # nothing to refresh: a 401 is final

    def __repr__(self) -> str:
        return "BasicCredentials(***)"


class OAuthCredentials:
    kind = "oauth"

    def __init__(self, post: Callable[[dict[str, str]], httpx.Response], client_id: str, client_secret: str,
                 username: str | None = None, password: str | None = None, clock=time.monotonic) -> None:
        self._post = post
        self._client_id, self._client_secret = client_id, client_secret
        self._username, self._password = username, password
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh: str | None = None
        self._expires = 0.0

    @property
    def grant(self) -> str:
        return "password" if self._username and self._password else "client_credentials"

    def __repr__(self) -> str:
        return f"OAuthCredentials(grant={self.grant}, ***)"

    def _request(self, form: dict[str, str]) -> dict:
        try:
            resp = self._post({"client_id": self._client_id, "client_secret": self._client_secret, **form})
        except httpx.HTTPError as exc:
            raise ServiceNowTransportError(f"OAuth token request failed: {type(exc).__name__}",
                                           sent=False, method="POST", path=TOKEN_PATH) from None
        if resp.status_code >= 500:
            raise ServiceNowServerError("OAuth token endpoint failed", status=resp.status_code, method="POST",
                                        path=TOKEN_PATH)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or f"HTTP {resp.status_code}"
            raise ServiceNowAuthError(
                f"OAuth token request refused ({reason}, grant {form['grant_type']}): check SERVICENOW_CLIENT_ID / "
                "SERVICENOW_CLIENT_SECRET (and SERVICENOW_USERNAME / SERVICENOW_PASSWORD for the password grant)",
                status=resp.status_code, method="POST", path=TOKEN_PATH)
        return body

    def _fetch(self) -> None:
        body = None
        if self._refresh:
            try:
                body = self._request({"grant_type": "refresh_token", "refresh_token": self._refresh})
            except ServiceNowAuthError:
                self._refresh = None  # expired or revoked refresh token: fall back to a full grant
        if body is None:
            form = {"grant_type": self.grant}
            if self.grant == "password":
                form.update(username=self._username or "", password=self._password or "")
            body = self._request(form)
        self._token = body["access_token"]
        self._refresh = body.get("refresh_token") or self._refresh
        self._expires = self._clock() + float(body.get("expires_in") or 1800) - REFRESH_MARGIN

    def header(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._fetch()
            return f"Bearer {self._token}"

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
        return True


def credentials_from(post: Callable[[dict[str, str]], httpx.Response], *, username: str | None,
                     password: str | None, client_id: str | None, client_secret: str | None):
    if client_id or client_secret:
        if not (client_id and client_secret):
            raise ConfigError("OAuth needs both SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET")
        return OAuthCredentials(post, client_id, client_secret, username, password)
    if username and password:
        return BasicCredentials(username, password)
    raise ConfigError("ServiceNow credentials missing: set SERVICENOW_USERNAME and SERVICENOW_PASSWORD "
                      "(or SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET for OAuth)")
