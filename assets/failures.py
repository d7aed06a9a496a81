"""The one error boundary of the code location: library errors become a ``dg.Failure`` here.

``connector/`` raises its own exceptions (``ConfigError``, ``FatalSyncError``, API errors that are
fatal by kind); a step that meets one fails with a ``dg.Failure`` whose description is the
connector's message (printed once and plainly by ``assets/console.py``). A record's problem never
gets here (it is that record's outcome), and an unexpected exception (a bug) keeps its traceback.
Every asset, op and resource check goes through ``dagster_failures`` (httpx's
``request_context`` is the model: foreign errors are mapped in one place).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from connector.errors import ApiError, ConfigError, FatalSyncError
from connector.sync.outcomes import is_fatal


@contextmanager
def dagster_failures(what: str = "", *, explain: Callable[[BaseException], str] | None = None,
                     every_api_error: bool = False) -> Iterator[None]:
    """Turn the connector's fatal errors into ``dg.Failure``.

    ``what`` prefixes the message (the step: "vendors: …"); ``explain`` rewrites an API or
    configuration error into the user's terms (a connectivity check says which setting to fix);
    ``every_api_error`` treats any API error as fatal (a check whose whole job is to reach the API)."""
    try:
        yield
    except dg.Failure:
        raise
    except (FatalSyncError, ConfigError) as exc:
        raise dg.Failure(description=_text(exc, what, explain)) from None
    except ApiError as exc:
        if not (every_api_error or is_fatal(exc)):
            raise
        raise dg.Failure(description=_text(exc, what, explain)) from None


def _text(exc: BaseException, what: str, explain: Callable[[BaseException], str] | None) -> str:
    text = explain(exc) if explain is not None else str(exc)
    return f"{what}: {text}" if what else text
