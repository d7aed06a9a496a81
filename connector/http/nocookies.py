"""An httpx client that keeps no cookies, for API clients that must not carry a session.

ServiceNow serialises concurrent requests that share a JSESSIONID and drops queued ones with a
202 (servicenow.md §3.1); Coverbase authenticates every request with its key. Neither client has
any use for cookies. ``CookielessClient`` is an ``httpx.Client`` whose public ``cookies`` property
is always an empty jar that refuses every cookie and skips httpx's per-response bookkeeping: httpx
calls ``cookies.extract_cookies`` on every response, which builds urllib request and response
stand-ins (URL re-parsed, headers copied) only for a policy to refuse them, about 5 % of the
connector's CPU in a full sync.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx


def no_cookies() -> CookieJar:
    """A fresh jar that refuses every cookie."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class _NoCookies(httpx.Cookies):
    """An empty jar that refuses every cookie and does no work per response."""

    def __init__(self) -> None:
        super().__init__(no_cookies())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None  # nothing is ever kept: no stand-ins to build


class CookielessClient(httpx.Client):
    """``httpx.Client`` with no cookie jar to speak of (``cookies=`` is ignored)."""

    def __init__(self, **kwargs: Any) -> None:
        self._no_cookies = _NoCookies()  # one per client: ``cookies.set`` would bypass the policy
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: Any) -> None:
        return None  # httpx.Client.__init__ assigns its jar here: there is none to keep
