"""Outcome classes and how errors map to them (prior-art §3.4).

- invalid: refused before sending (pre-flight), retried when the source record changes;
- rejected: refused by Coverbase (4xx), retried when the record changes or when asked;
- transient: 429/5xx/timeouts/integrity of a download, retried next run whatever the hash;
- fatal: credentials, unreachable API, configuration: the run stops with the message.
"""

from __future__ import annotations

from connector.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    PermissionDeniedError,
    RateLimitedError,
    TransientServerError,
    TransportError,
    UnexpectedResponseError,
)

# Ledger statuses
OK, INVALID, REJECTED, TRANSIENT, DEFERRED, SKIPPED, PENDING, ARCHIVED = (
    "ok", "invalid", "rejected", "transient", "deferred", "skipped", "pending", "archived")

# Report outcomes (the pinned seven, plus linked / skipped / transient)
CREATED, UPDATED, UNCHANGED, LINKED = "created", "updated", "unchanged", "linked"
OUTCOMES = (CREATED, UPDATED, UNCHANGED, LINKED, ARCHIVED, DEFERRED, INVALID, REJECTED, SKIPPED, TRANSIENT)

STATUS_OF_OUTCOME = {CREATED: OK, UPDATED: OK, UNCHANGED: OK, LINKED: OK, ARCHIVED: ARCHIVED, DEFERRED: DEFERRED,
                     INVALID: INVALID, REJECTED: REJECTED, SKIPPED: SKIPPED, TRANSIENT: TRANSIENT}

# Planned actions; the ones that write to Coverbase
CREATE, UPDATE, LINK, ARCHIVE, NOOP = "create", "update", "link", "archive", "noop"
WRITE_ACTIONS = frozenset({CREATE, UPDATE, LINK, ARCHIVE})
PREDICTED_OUTCOME = {CREATE: CREATED, UPDATE: UPDATED, LINK: LINKED, ARCHIVE: ARCHIVED, NOOP: UNCHANGED,
                     INVALID: INVALID, DEFERRED: DEFERRED, SKIPPED: SKIPPED, REJECTED: REJECTED,
                     TRANSIENT: TRANSIENT}  # planned transient: a write still awaiting confirmation


def is_fatal(exc: BaseException) -> bool:
    if isinstance(exc, (FatalSyncError, ConfigError, AuthenticationError, PermissionDeniedError)):
        return True
    return isinstance(exc, ApiError) and exc.fatal


def classify(exc: BaseException) -> tuple[str, str]:
    """(outcome, reason) for a non-fatal error raised while applying one record."""
    if isinstance(exc, (RateLimitedError, TransientServerError, TransportError, UnexpectedResponseError,
                        AmbiguousWriteError)):
        return TRANSIENT, str(exc)
    if isinstance(exc, ApiError):
        if exc.retryable:
            return TRANSIENT, str(exc)
        return REJECTED, str(exc)
    return TRANSIENT, f"unexpected {type(exc).__name__}: {exc}"
