"""ServiceNow errors and the classifier of every response shape servicenow.md §1.6 lists."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx

from connector.errors import (
    ApiError,
    ContentMismatch,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientServerError,
    TransportError,
    UnexpectedResponseError,
)

CANCELLED = "Transaction cancelled: maximum execution time exceeded"


class ServiceNowError(ApiError):
    api = "ServiceNow"


class ServiceNowAuthError(ServiceNowError, AuthenticationError):
    pass


class ServiceNowPermissionDenied(ServiceNowError, PermissionDeniedError):
    pass


class ServiceNowNotFound(ServiceNowError, NotFoundError):
    pass


class ServiceNowBadRequest(ServiceNowError, BadRequestError):
    """400: bad parameter or unknown table: a configuration problem, never retried."""

    fatal = True


class ServiceNowRateLimited(ServiceNowError, RateLimitedError):
    pass


class ServiceNowServerError(ServiceNowError, TransientServerError):
    pass


class ServiceNowTransportError(ServiceNowError, TransportError):
    pass


class ServiceNowQueued(ServiceNowError):
    """202: the request was *not* processed (session queue overflow); re-send it."""

    retryable = True


class ServiceNowBadBody(ServiceNowError, UnexpectedResponseError):
    """A 200 whose body is truncated, not JSON, ``null``, or lacks ``result``."""

    retryable = True


class ServiceNowHtmlResponse(ServiceNowError, UnexpectedResponseError):
    """HTML where JSON was asked for: a hibernating instance, a login page, a wrong URL.
    Retried a few times; if it persists the run cannot go on."""

    retryable = True
    fatal = True


class ServiceNowQuotaCancelled(ServiceNowError):
    """The transaction quota cancelled the request: the reader retries with a smaller page."""


class ServiceNowIntegrityError(ServiceNowError, ContentMismatch):
    """Downloaded bytes do not match the attachment's size or sha256."""


def _error_body(resp: httpx.Response) -> tuple[str, str | None]:
    try:
        body = resp.json()
    except ValueError:
        snippet = resp.text[:100].replace("\n", " ") if resp.content else ""
        return (f"non-JSON body: {snippet!r}" if snippet else "empty body"), None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or "error"), (str(err["detail"]) if err.get("detail") else None)
        if isinstance(err, str):  # OAuth: {"error": "server_error", "error_description": "access_denied"}
            return f"{err}: {body.get('error_description', '')}".strip(": "), None
    return "error response", None


def retry_after_of(resp: httpx.Response, now: float | None = None) -> float | None:
    """``Retry-After`` exactly (seconds or HTTP-date), else ``X-RateLimit-Reset`` (epoch seconds)."""
    now = time.time() if now is None else now
    raw = resp.headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(raw)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    reset = resp.headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def error_from_response(resp: httpx.Response, method: str, path: str) -> ServiceNowError:
    status = resp.status_code
    message, detail = _error_body(resp)
    full = f"{message} ({detail})" if detail else message
    kw: dict[str, Any] = dict(status=status, method=method, path=path)
    if CANCELLED in resp.text:
        return ServiceNowQuotaCancelled(CANCELLED, **kw)
    if status == 202:
        return ServiceNowQueued("202 Accepted: request queued behind another on the same session, not processed", **kw)
    if status == 401:
        return ServiceNowAuthError(full, **kw)
    if status == 403:
        return ServiceNowPermissionDenied(full, **kw)
    if status == 404:
        return ServiceNowNotFound(full, **kw)
    if status == 400:
        return ServiceNowBadRequest(full, **kw)
    if status == 429:
        return ServiceNowRateLimited(full, retry_after=retry_after_of(resp), **kw)
    if status >= 500:
        return ServiceNowServerError(full, **kw)
    return ServiceNowError(full, **kw)


def validate_body(resp: httpx.Response, method: str, path: str) -> Any:
    """Every 200 must be a JSON object with ``result`` and no ``error`` (Pitfall 8)."""
    ctype = resp.headers.get("content-type", "")
    if "html" in ctype.lower():
        raise ServiceNowHtmlResponse(
            "answered HTML instead of JSON: is the instance hibernating, behind a login page, "
            "or is SERVICENOW_INSTANCE_URL wrong?", status=resp.status_code, method=method, path=path)
    raw = resp.content
    if CANCELLED.encode() in raw:
        raise ServiceNowQuotaCancelled(CANCELLED + " (truncated 200)", status=resp.status_code, method=method, path=path)
    try:
        body = json.loads(raw)
    except ValueError:
        raise ServiceNowBadBody(f"truncated or invalid JSON body ({len(raw)} bytes)", status=resp.status_code,
                                method=method, path=path) from None
    if body is None:
        raise ServiceNowBadBody("JSON null body", status=resp.status_code, method=method, path=path)
    if not isinstance(body, dict) or "result" not in body or body.get("error"):
        raise ServiceNowBadBody("body has no 'result' (or carries an 'error')", status=resp.status_code,
                                method=method, path=path)
    return body
