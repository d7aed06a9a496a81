"""Progress of long work, logged at a steady pace: records done / total, rate, ETA, errors so far.

One ``Progress`` per piece of work (reading one stream, writing one entity). Its owner calls
``advance`` as records are done; a line is logged when one is due (every ``every`` seconds,
``CONNECTOR_PROGRESS_SECONDS``, default 10), never on short work: the first line comes only after
``every`` seconds, and the closing line only if a line came before. Used as a context manager it
also runs a ticker thread, so a line still comes on time while the owner waits (a slow upload, a
rate-limit pause, a retry): long silence never means "stuck" without saying so.

Lines go to a plain callable (``context.log.info`` in a Dagster step, a logger elsewhere); no
Dagster import. The lock is a leaf: held to update counters and decide, never while logging.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

SETTING = "CONNECTOR_PROGRESS_SECONDS"
DEFAULT_EVERY = 10.0
# Lines come at 90 % of the pace, so two lines are never more than ``every`` seconds apart.
EARLY = 0.9


def default_every(env: Mapping[str, str] | None = None) -> float:
    """``CONNECTOR_PROGRESS_SECONDS`` (0: a line on every step of the work), default 10; a bad value
    falls back to the default here and is reported by the settings check."""
    raw = ((os.environ if env is None else env).get(SETTING) or "").strip()
    try:
        value = float(raw) if raw else DEFAULT_EVERY
    except ValueError:
        return DEFAULT_EVERY
    return value if value >= 0 else DEFAULT_EVERY


def _eta(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    def __init__(self, what: str, total: int | None = None, *, log: Callable[[str], None],
                 every: float | None = None, unit: str = "records", verb: str = "done",
                 total_fn: Callable[[], int | None] | None = None, clock: Callable[[], float] = time.monotonic,
                 ticker: bool = True) -> None:
        """``total_fn``: asked once, lazily, when the first line is due (so short work never pays for
        counting); ``ticker``: run the background thread when used as a context manager."""
        self.what, self.total, self.unit, self.verb = what, total, unit, verb
        self._log, self._clock, self._total_fn = log, clock, total_fn
        self.every = default_every() if every is None else every
        self.pace = self.every * EARLY
        self.done = 0
        self.errors = 0
        self.phase = ""
        self.lines = 0
        self._started = clock()
        self._last = self._started
        self._lock = threading.Lock()
        self._use_ticker = ticker and self.every > 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what the owner calls -------------------------------------------------------------

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        with self._lock:
            self.done += n
            self.errors += errors
        self._maybe_log(ask_total=True)

    def set_phase(self, phase: str) -> None:
        """What is happening now that is not counted ("sweeping deletions", "probing contents")."""
        with self._lock:
            self.phase = phase

    def tick(self) -> None:
        """Log a line if one is due (the ticker calls this; tests call it with an injected clock)."""
        self._maybe_log(ask_total=False)

    def finish(self) -> None:
        """The closing line, only after long work (short work logs nothing at all)."""
        self._stop.set()
        with self._lock:
            if self.lines == 0:
                return
            elapsed = max(1e-9, self._clock() - self._started)
            rate = self.done / elapsed
            line = (f"{self.what}: {self.verb} {self.done:,} {self.unit} in {_eta(elapsed)} ({rate:,.1f} {self.unit}/s), "
                    f"{self.errors:,} error{'s' if self.errors != 1 else ''}" if self.unit
                    else f"{self.what}: finished after {_eta(elapsed)}")
            self.lines += 1
        self._log(line)

    # --- the pace --------------------------------------------------------------------------

    def _maybe_log(self, *, ask_total: bool) -> None:
        with self._lock:
            now = self._clock()
            due = now - self._last >= self.pace if self.every > 0 else True
            if not due:
                return
            self._last = now
            need_total = ask_total and self.total is None and self._total_fn is not None
        if need_total:
            fn, self._total_fn = self._total_fn, None
            try:
                total = fn()
            except Exception:  # noqa: BLE001 - a count is a nicety; reading goes on without it
                total = None
            with self._lock:
                self.total = total
        with self._lock:
            line = self._line(now)
            self.lines += 1
        self._log(line)

    def _line(self, now: float) -> str:
        elapsed = max(1e-9, now - self._started)
        if not self.unit:  # uncounted work: say it is still going
            return f"{self.what}: still working after {_eta(elapsed)}" + (f"; {self.phase}" if self.phase else "")
        rate = self.done / elapsed
        if self.total:
            share = min(1.0, self.done / self.total)
            left = max(0, self.total - self.done)
            eta = f"ETA {_eta(left / rate)}" if rate > 0 else "ETA unknown"
            head = f"{self.done:,} / {self.total:,} {self.unit} {self.verb} ({share:.0%})"
        else:
            eta = "ETA unknown (total not known)"
            head = f"{self.done:,} {self.unit} {self.verb} so far"
        phase = f"; {self.phase}" if self.phase else ""
        return (f"{self.what}: {head}, {rate:,.1f} {self.unit}/s, {eta}, "
                f"{self.errors:,} error{'s' if self.errors != 1 else ''} so far{phase}")

    # --- the ticker ----------------------------------------------------------------------

    def __enter__(self) -> Progress:
        if self._use_ticker:
            self._thread = threading.Thread(target=self._run, name=f"progress-{self.what}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        if self._thread is not None:
            self._thread.join(timeout=5)  # it wakes at once on the stop event; bounded anyway

    def _run(self) -> None:
        while True:
            with self._lock:
                wait = max(0.05, self._last + self.pace - self._clock())
            if self._stop.wait(wait):
                return
            self.tick()


class NullProgress(Progress):
    """Counts nothing and logs nothing: the default where nobody asked for progress."""

    def __init__(self) -> None:
        super().__init__("", log=lambda _line: None, every=0, ticker=False)

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        pass

    def tick(self) -> None:
        pass

    def finish(self) -> None:
        pass


def silent(what: str, total: int | None = None, **_kw) -> Progress:
    """A progress factory that logs nothing."""
    return NullProgress()


def to_log(log: Callable[[str], None], *, every: float | None = None) -> Callable[..., Progress]:
    """A progress factory logging to ``log`` at the configured pace."""

    def make(what: str, total: int | None = None, **kw) -> Progress:
        return Progress(what, total, log=log, every=every, **kw)

    return make
