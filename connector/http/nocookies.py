"""A cookie jar that keeps nothing, for API clients that must not carry a session.

ServiceNow serialises concurrent requests that share a JSESSIONID and drops queued ones with a
202 (servicenow.md §3.1); Coverbase authenticates every request with its key. Neither client has
any use for cookies. httpx keeps a ``CookieJar`` given as ``cookies=`` as its own jar, so a jar
whose policy accepts no domain stores nothing and sends nothing (no private attribute touched).
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy


def no_cookies() -> CookieJar:
    """A fresh jar that refuses every cookie (pass it as ``httpx.Client(cookies=...)``)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
