"""``Coverbase-Signature``: lower-case hex HMAC-SHA256 of the raw request body, keyed by the secret
(coverbase-api.md §2.11). Verified over the exact bytes received, before any parsing, in
constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

MIN_SECRET_LENGTH = 16  # Coverbase refuses shorter secrets (400 weak_secret)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under one of ``secrets`` (rotation: the
    current and the previous secret). Every secret is compared, so timing says nothing either."""
    if not header:
        return False
    given = header.strip().lower().encode()
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(sign(secret, body).encode(), given)
    return ok
