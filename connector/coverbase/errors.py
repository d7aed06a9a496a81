"""Coverbase errors, and the parser of every error envelope the API uses (contract §1.5).

Shapes handled: coded ``{"detail":{"code","message"}}``, free-form ``{"detail":{"error"}}``
(assessments), ``{"detail":{"error","value"}}``, FastAPI validation arrays
``{"detail":[{"loc","msg","type"}]}``, string ``{"detail":"..."}``, RFC 6749 ``{"error",
"error_description"}``, and a body that is not JSON at all (a proxy's HTML page).
"""

from __future__ import annotations

from typing import Any

import httpx

from connector.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FieldError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    TransientServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationFailedError,
)
from connector.http.retry_after import parse_retry_after
from connector.http.transport import request_id_of

__all__ = ["CoverbaseError", "error_from_response", "parse_envelope", "request_id_of", "retry_after_of"]


class CoverbaseError(ApiError):
    api = "Coverbase"


class CoverbaseAuthError(CoverbaseError, AuthenticationError):
    pass


class CoverbasePermissionDenied(CoverbaseError, PermissionDeniedError):
    pass


class CoverbaseNotFound(CoverbaseError, NotFoundError):
    pass


class CoverbaseConflict(CoverbaseError, ConflictError):
    pass


class CoverbaseBadRequest(CoverbaseError, BadRequestError):
    pass


class CoverbaseValidationError(CoverbaseError, ValidationFailedError):
    pass


class CoverbasePayloadTooLarge(CoverbaseError, PayloadTooLargeError):
    pass


class CoverbaseRateLimited(CoverbaseError, RateLimitedError):
    pass


class CoverbaseServerError(CoverbaseError, TransientServerError):
    pass


class CoverbaseTransportError(CoverbaseError, TransportError):
    pass


class CoverbaseAmbiguousWrite(CoverbaseError, AmbiguousWriteError):
    pass


class CoverbaseUnexpectedResponse(CoverbaseError, UnexpectedResponseError):
    pass


_BY_STATUS: dict[int, type[CoverbaseError]] = {
    400: CoverbaseBadRequest,
    401: CoverbaseAuthError,
    403: CoverbasePermissionDenied,
    404: CoverbaseNotFound,
    409: CoverbaseConflict,
    413: CoverbasePayloadTooLarge,
    422: CoverbaseValidationError,
    429: CoverbaseRateLimited,
}

def retry_after_of(resp: httpx.Response) -> float | None:
    """The wait a 429 asks for: ``detail.retry_after`` (the API's own number), else ``Retry-After``
    (seconds or HTTP-date)."""
    try:
        resp.read()  # the transport sees the raw response: read its (small) error body first
        wait = parse_envelope(resp.json())[3]
    except (ValueError, httpx.HTTPError):
        wait = None
    return wait if wait is not None else parse_retry_after(resp.headers.get("retry-after"))


def parse_envelope(body: Any) -> tuple[str | None, str, tuple[FieldError, ...], float | None]:
    """Return (code, message, field_errors, retry_after) from any documented error body."""
    if not isinstance(body, dict):
        return None, "response body is not a JSON object", (), None
    detail = body.get("detail")
    if isinstance(detail, str):
        return None, detail, (), None
    if isinstance(detail, list):
        fields = tuple(
            FieldError(
                loc=tuple(item.get("loc") or ()),
                msg=str(item.get("msg", "")),
                type=str(item.get("type", "")),
            )
            for item in detail
            if isinstance(item, dict)
        )
        return "validation_error", "; ".join(str(f) for f in fields) or "validation failed", fields, None
    if isinstance(detail, dict):
        code = detail.get("code")
        message = detail.get("message") or detail.get("error") or ""
        if "value" in detail:
            message = f"{message} (value: {detail['value']!r})"
        retry_after = detail.get("retry_after")
        try:
            retry_after = max(0.0, float(retry_after)) if retry_after is not None else None
        except (TypeError, ValueError):
            retry_after = None
        return (str(code) if code else None), str(message) or "error", (), retry_after
    if "error" in body:  # RFC 6749 (OAuth token endpoint)
        return str(body["error"]), str(body.get("error_description") or body["error"]), (), None
    return None, "error response without a detail envelope", (), None


def error_from_response(resp: httpx.Response, method: str, path: str) -> CoverbaseError:
    try:
        body = resp.json()
        code, message, fields, retry_after = parse_envelope(body)
    except ValueError:
        snippet = resp.text[:120].replace("\n", " ") if resp.content else ""
        code, message, fields, retry_after = None, f"non-JSON error body: {snippet!r}", (), None
    if resp.status_code == 429:
        if retry_after is None:
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
    status = resp.status_code
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = CoverbaseServerError if status >= 500 else CoverbaseError
    err = cls(
        message,
        status=status,
        code=code,
        method=method,
        path=path,
        request_id=request_id_of(resp),
        retry_after=retry_after,
        field_errors=fields,
    )
    if cls is CoverbaseServerError and status not in (500, 502, 503, 504):
        err.retryable = False  # 501/505...: retrying will not help
    return err
