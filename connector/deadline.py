"""The run's deadline: every wait in the connector is bounded by it.

A run has a maximum runtime (``CONNECTOR_MAX_RUNTIME``). One ``Deadline`` object is shared by
the clients (their request gate and transport cap every slot wait, pause and socket timeout at
the time left), the retry loop (it stops retrying when the next wait would pass it) and the
sync loops (they wait for workers in bounded steps and give up when it has passed). So a run
against an API that stops answering ends, failed, at its deadline plus at most one polling step,
instead of hanging until someone notices.

The deadline never holds a lock; reading it is free.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from connector.errors import RunTimeExceeded

SETTING = "CONNECTOR_MAX_RUNTIME"


class Deadline:
    def __init__(self, seconds: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 started: float | None = None) -> None:
        """``seconds`` from ``started`` (default: now); ``None`` means no deadline."""
        self._clock = clock
        self.seconds = seconds
        self.started = clock() if started is None else started
        self.at = math.inf if seconds is None else self.started + max(0.0, seconds)

    @classmethod
    def never(cls) -> Deadline:
        return cls(None)

    def remaining(self) -> float:
        return self.at - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def cap(self, seconds: float | None) -> float | None:
        """``seconds`` limited to the time left (never below a small floor, so a last
        request can still fail cleanly with a timeout rather than a zero-timeout error)."""
        if math.isinf(self.at):
            return seconds
        left = max(0.05, self.remaining())
        return left if seconds is None else min(seconds, left)

    def check(self, doing: str = "") -> None:
        """Raise ``RunTimeExceeded`` once the deadline has passed."""
        if self.expired():
            raise RunTimeExceeded(self.message(doing))

    def message(self, doing: str = "") -> str:
        what = f" while {doing}" if doing else ""
        return (f"the run exceeded its maximum runtime of {self.seconds:g} s ({SETTING}){what}; it stopped, "
                "failed. Everything written so far is in the ledger and the next run carries on from there. "
                f"Raise {SETTING} if runs this long are expected.")

    def __repr__(self) -> str:
        return "Deadline(none)" if math.isinf(self.at) else f"Deadline({self.remaining():.1f}s left)"
