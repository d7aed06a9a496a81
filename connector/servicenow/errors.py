"""ServiceNow errors and the classifier of every response shape servicenow.md §1.6 lists."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from connector.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ContentMismatch,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientServerError,
    TransportError,
    UnexpectedResponseError,
)
from connector.http.retry_after import parse_epoch_reset, parse_retry_after

CANCELLED = "Transaction cancelled: maximum execution time exceeded"
CANCEL_PREFIX = "Transaction cancelled"


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
    wait = parse_retry_after(resp.headers.get("retry-after"), now=now)
    if wait is not None:
        return wait
    return parse_epoch_reset(resp.headers.get("x-ratelimit-reset"), now=now)


def is_cancel_message(message: object) -> bool:
    return isinstance(message, str) and message.strip().startswith(CANCEL_PREFIX)


_ERROR_KEY = re.compile(r'(?<!\\)"error"\s*:\s*')
_CLOSING = re.compile(r'\s*(,\s*"status"\s*:\s*"failure"\s*)?[}\]\s]*')
_DECODER = json.JSONDecoder()


def cancelled_at_tail(raw: bytes, window: int = 8192) -> bool:
    """Whether a body that is not valid JSON *ends* with ServiceNow's cancel error object.

    A transaction-quota cancel of a response that had started streaming leaves the partial
    ``result`` and then appends ``"error": {"message": "Transaction cancelled: ..."}`` (KB1297438).
    Only the last ``"error"`` key of the body counts, its value must decode as an object whose
    ``message`` is the cancel sentence, and nothing but closing brackets may follow. A record value
    that merely quotes the sentence sits inside a JSON string (its quotes escaped), so it can never
    match."""
    tail = raw[-window:].decode("utf-8", "replace")
    matches = list(_ERROR_KEY.finditer(tail))
    if not matches:
        return False
    last = matches[-1]
    try:
        value, end = _DECODER.raw_decode(tail, last.end())
    except ValueError:
        return False
    return (isinstance(value, dict) and is_cancel_message(value.get("message"))
            and _CLOSING.fullmatch(tail[end:]) is not None)


def error_from_response(resp: httpx.Response, method: str, path: str) -> ServiceNowError:
    status = resp.status_code
    message, detail = _error_body(resp)
    full = f"{message} ({detail})" if detail else message
    kw: dict[str, Any] = dict(status=status, method=method, path=path)
    # Recognised from the error object (or a cut body ending in it), never from record values.
    if is_cancel_message(message) or (message.startswith(("non-JSON", "empty")) and cancelled_at_tail(resp.content)):
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
    """Every 200 of a JSON endpoint must be a JSON object with ``result`` and no ``error`` (Pitfall 8).

    ServiceNow's error framing is recognised only where ServiceNow puts it: HTML instead of JSON
    (by content type), an ``error`` object next to a partial ``result``, or a body cut mid-JSON
    that ends in the cancel error. What the records themselves say is never searched."""
    ctype = resp.headers.get("content-type", "")
    if "html" in ctype.lower():
        raise ServiceNowHtmlResponse(
            "answered HTML instead of JSON: is the instance hibernating, behind a login page, "
            "or is SERVICENOW_INSTANCE_URL wrong?", status=resp.status_code, method=method, path=path)
    raw = resp.content
    kw: dict[str, Any] = dict(status=resp.status_code, method=method, path=path)
    try:
        body = json.loads(raw)
    except ValueError:
        if cancelled_at_tail(raw):
            raise ServiceNowQuotaCancelled(CANCELLED + " (truncated 200)", **kw) from None
        raise ServiceNowBadBody(f"truncated or invalid JSON body ({len(raw)} bytes)", **kw) from None
    if body is None:
        raise ServiceNowBadBody("JSON null body", **kw)
    if not isinstance(body, dict):
        raise ServiceNowBadBody(f"body is a JSON {type(body).__name__}, not an object", **kw)
    err = body.get("error")
    if err:
        if isinstance(err, dict) and is_cancel_message(err.get("message")):
            raise ServiceNowQuotaCancelled(CANCELLED + " (error next to a partial result)", **kw)
        raise ServiceNowBadBody("body carries an 'error' object", **kw)
    if "result" not in body:
        raise ServiceNowBadBody("body has no 'result'", **kw)
    return body
