"""Transport safety rules shared by both clients."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from connector.errors import ConfigError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_safe_base_url(url: str, what: str) -> str:
    """Return ``url`` without a trailing slash, or raise ConfigError.

    Plain http is allowed only for loopback hosts (the project's emulators); anything that
    leaves the machine must be https, and TLS verification is never switched off elsewhere.
    """
    if not url or not url.strip():
        raise ConfigError(f"{what}: no URL configured")
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise ConfigError(f"{what}: credentials must not be embedded in the URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{what}: plain http:// is refused for non-loopback host {parts.hostname!r}; use https://"
        )
    return url
