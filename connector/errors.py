"""Exception hierarchy shared by both API clients and the sync engine.

Every API error carries what an operator needs to act on it (status, code, message, method,
path, request id) and what the retry layer needs (retryable, retry_after). The concrete
classes of each API (``CoverbaseNotFound``, ``ServiceNowRateLimited``...) inherit from one of
the generic kinds below, so the sync engine can classify outcomes without knowing which API
raised. Messages never include headers, bodies of requests, or credentials.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConnectorError(Exception):
    """Base of everything this package raises on purpose."""


class ConfigError(ConnectorError):
    """The configuration is wrong: fatal, the run stops with this message."""


class FatalSyncError(ConnectorError):
    """Stops the run (credentials, unreachable API, circuit breaker)."""


class RunTimeExceeded(FatalSyncError):
    """The run passed its maximum runtime (``CONNECTOR_MAX_RUNTIME``): it stops, failed, and frees
    the writer lock; what was written is in the ledger and the next run carries on from there."""


class ContentMismatch(ConnectorError):
    """Fetched bytes are not what the source says the file holds (size or sha256)."""


@dataclass(frozen=True)
class FieldError:
    """One item of a FastAPI validation array (or a local pre-flight check)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = ""

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.loc if p != "body") or "(body)"
        return f"{where}: {self.msg}"


class ApiError(ConnectorError):
    api = "API"
    retryable = False
    fatal = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        field_errors: tuple[FieldError, ...] = (),
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.request_id = request_id
        self.retry_after = retry_after
        self.field_errors = field_errors
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.method} {self.path}" if self.method else (self.path or "")
        status = f" -> {self.status}" if self.status is not None else ""
        code = f" {self.code}" if self.code else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.api} {where}{status}{code}: {self.message}{rid}".replace("  ", " ")

    @property
    def kind(self) -> str:
        """A short stable name for the ledger's error_class column."""
        return type(self).__name__


class AuthenticationError(ApiError):
    """401: bad, expired or revoked credentials."""

    fatal = True


class PermissionDeniedError(ApiError):
    """403: the credentials work but may not do this (scope, ACL, IP allowlist)."""

    fatal = True


class NotFoundError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class BadRequestError(ApiError):
    """400: a business-rule rejection of this record."""


class ValidationFailedError(ApiError):
    """422: the payload failed schema validation; ``field_errors`` says where."""


class PayloadTooLargeError(ApiError):
    pass


class RateLimitedError(ApiError):
    """429: refused before processing, so any request may be re-sent after the wait."""

    retryable = True


class TransientServerError(ApiError):
    retryable = True


class TransportError(ApiError):
    """No HTTP response: connect/read timeout, reset, DNS.

    ``sent`` is False when the request provably never left (connect failure, pool timeout);
    only then is it safe to re-send a non-idempotent write.
    """

    retryable = True

    def __init__(self, message: str, *, sent: bool, **kw) -> None:
        self.sent = sent
        super().__init__(message, **kw)


class AmbiguousWriteError(ApiError):
    """A non-idempotent write failed after it may have been committed.

    Never retried blindly: the caller must read back (e.g. match ``external_id``) first.
    """


class UnexpectedResponseError(ApiError):
    """A response that does not match the contract (not JSON, wrong shape)."""

    retryable = True
