"""The one ``Retry-After`` parser both clients use (RFC 9110 §10.2.3, dlt's ``requests/retry.py``).

``Retry-After`` is either a number of seconds or an HTTP-date. Anything else (``soon``, an empty
string, a date in an unknown format) gives ``None``: the caller falls back to its default wait
instead of failing on a header the server got wrong.
"""

from __future__ import annotations

import email.utils
import math
import time
from datetime import UTC


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait, never negative; ``None`` when the value is missing or not understood."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None:
            return None
        if parsed.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def parse_epoch_reset(value: str | None, *, now: float | None = None) -> float | None:
    """``X-RateLimit-Reset`` (epoch seconds, ServiceNow) as seconds from now."""
    if not value:
        return None
    try:
        at = float(value.strip())
    except ValueError:
        return None
    if math.isnan(at) or math.isinf(at):
        return None
    return max(0.0, at - (time.time() if now is None else now))
