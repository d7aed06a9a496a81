"""A cookie store that keeps nothing, for API clients that must not carry a session.

ServiceNow serialises concurrent requests that share a JSESSIONID and drops queued ones with a
202 (servicenow.md §3.1); Coverbase authenticates every request with its key. Neither client
has any use for cookies, and httpx otherwise parses every response's headers into a jar.
"""

from __future__ import annotations

import httpx


class NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


def without_cookies(client: httpx.Client) -> httpx.Client:
    # httpx wraps whatever ``cookies=`` it is given in a plain Cookies, so the store is set after.
    client._cookies = NoCookies()  # noqa: SLF001 - httpx is pinned < 0.29
    return client
