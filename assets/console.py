"""What a run prints on the console: a deliberate failure once, plainly, and first.

Dagster's console logger prints a step's ``dg.Failure`` with the framework's stack trace, prints
it again (stack and all) under RUN_FAILURE, and logs one ERROR line per downstream step that did
not run. A ``dg.Failure`` is the connector saying exactly what is wrong (settings, credentials,
an unreachable API, the circuit breaker, the maximum runtime): its stack trace is noise. So the
console logger of the runs gets a filter that

- prints a step failure raised as ``dg.Failure`` as its header and its description, without the
  stack trace; unexpected exceptions (bugs) keep theirs;
- prints RUN_FAILURE without repeating that error (it is a few lines above);
- prints "Dependencies for step … Not executing." at INFO: true, but not what a user reads first.

Only the console changes: the event log (the UI) keeps every event as Dagster recorded it.

Why a filter on Dagster's own console logger: a custom ``@dg.logger`` is used only when the run
config names it, and the job's default config cannot do that for ``sync_all`` (its extraction
assets are partitioned, so Dagster applies job config to partitioned runs only), while the pinned
``dagster job execute … -j sync_all`` runs unpartitioned without config. ``install()`` therefore
wraps the factory Dagster 1.13 builds its default console logger with
(``dagster._loggers.create_console_logger``) to add the filter. If that private name ever moves,
``install()`` does nothing and the console falls back to Dagster's format (the settings message
still comes first); ``tests/test_first_hour_cli.py`` fails and says so.
"""

from __future__ import annotations

import logging


def _failure_description(event) -> str | None:
    """The description of the deliberate dg.Failure behind a STEP_FAILURE event, else None."""
    user = getattr(getattr(event, "event_specific_data", None), "user_failure_data", None)
    return user.description if user is not None and user.description else None


class PlainFailures(logging.Filter):
    """Rewrites the console's copy of a record (each logger makes its own record: the event log
    never sees these changes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None)
        if not isinstance(meta, dict):
            return True
        event = meta.get("dagster_event")
        message = record.getMessage()
        kind = getattr(event, "event_type_value", None)
        if kind == "STEP_FAILURE":
            desc = _failure_description(event)
            if desc is not None:
                record.msg, record.args = message.split("\n\n", 1)[0] + "\n\n" + desc + "\n", ()
        elif kind in ("PIPELINE_FAILURE", "RUN_FAILURE"):
            first = getattr(getattr(event, "event_specific_data", None), "first_step_failure_event", None)
            if first is not None and _failure_description(first) is not None:
                record.msg, record.args = message.split("\n\n", 1)[0] + " The error is printed above.", ()
        elif event is None and record.levelno >= logging.ERROR and message.endswith("Not executing."):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install() -> bool:
    """Add ``PlainFailures`` to every console logger Dagster's default logger factory builds from
    now on (idempotent). Returns False when Dagster's factory is not where 1.13 keeps it."""
    try:
        import dagster._loggers as loggers_module
    except ImportError:  # pragma: no cover - Dagster moved it
        return False
    original = getattr(loggers_module, "create_console_logger", None)
    if original is None:
        return False
    if getattr(original, "plain_failures", False):
        return True

    def create_console_logger(name: str, level):
        log = original(name, level)
        log.addFilter(PlainFailures())
        return log

    create_console_logger.plain_failures = True  # type: ignore[attr-defined]
    loggers_module.create_console_logger = create_console_logger
    return True
