"""Progress of long work, logged at a steady pace: records done / total, rate, ETA, errors so far.

One ``Progress`` per step (one extraction asset, one push): its owner runs it as a context
manager around the whole step, and the code doing the work says what it is doing: ``begin`` a
counted task (reading a table, writing an entity) and ``advance`` as records are done, or name an
uncounted ``phase`` (building the snapshot, planning, sweeping for deletions). A line is logged
when one is due, every ``every`` seconds (``CONNECTOR_PROGRESS_SECONDS``, default 10; lines come
at 90 % of that, so two are never further apart), and never on short work: the first line comes
only after ``every`` seconds, closing lines only after a task that logged. A ticker thread keeps
the pace while the work waits (a slow upload, a rate-limit pause, a retry): a long silence never
means "stuck" without saying so.

Lines go to a plain callable (``context.log.info`` in a Dagster step, a logger elsewhere); no
Dagster import. The lock is a leaf: held to update counters and decide, never while logging or
counting a total.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SETTING = "CONNECTOR_PROGRESS_SECONDS"
DEFAULT_EVERY = 10.0
EARLY = 0.9  # lines come at 90 % of the pace: never more than ``every`` seconds apart


def default_every(env: Mapping[str, str] | None = None) -> float:
    """``CONNECTOR_PROGRESS_SECONDS`` (0: a line on every step of the work), default 10; a bad value
    falls back to the default here and is reported by the settings check."""
    raw = ((os.environ if env is None else env).get(SETTING) or "").strip()
    try:
        value = float(raw) if raw else DEFAULT_EVERY
    except ValueError:
        return DEFAULT_EVERY
    return value if value >= 0 else DEFAULT_EVERY


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _errors(n: int) -> str:
    return f"{n:,} error{'s' if n != 1 else ''}"


@dataclass
class _Task:
    label: str
    total: int | None
    total_fn: Callable[[], int | None] | None
    unit: str  # "" for an uncounted phase
    verb: str
    started: float
    done: int = 0
    errors: int = 0
    lines: int = 0


class Progress:
    def __init__(self, what: str, total: int | None = None, *, log: Callable[[str], None],
                 every: float | None = None, unit: str = "", verb: str = "done",
                 total_fn: Callable[[], int | None] | None = None, clock: Callable[[], float] = time.monotonic,
                 ticker: bool = True) -> None:
        """``what`` names the step. With ``unit`` (e.g. "records") the step starts as one counted
        task of that name; else tasks and phases are named as the work goes (``begin``, ``phase``).
        ``total_fn`` counts a task's total when it is not known, asked once the task has run for half
        a pace (never for short work)."""
        self.what = what
        self._log, self._clock = log, clock
        self.every = default_every() if every is None else every
        self.pace = self.every * EARLY
        self.lines = 0
        self._started = self._last = clock()
        self._lock = threading.Lock()
        self._task = _Task(what, total, total_fn, unit, verb, self._started)
        self._use_ticker = ticker and self.every > 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what the work calls ---------------------------------------------------------------

    def begin(self, label: str, total: int | None = None, *, total_fn: Callable[[], int | None] | None = None,
              unit: str = "records", verb: str = "done") -> None:
        """A new counted task (``unit=""``: an uncounted phase); closes the previous one."""
        with self._lock:
            previous, self._task = self._task, _Task(label, total, total_fn, unit, verb, self._clock())
            closing = self._closing(previous)
        if closing:
            self._emit(closing)

    def phase(self, label: str) -> None:
        """Work that is not counted in records ("building the snapshot", "sweeping for deletions")."""
        self.begin(label, unit="")

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        with self._lock:
            task = self._task
            task.done += n
            task.errors += errors
            # Count the total once the task has run half a pace: short work never pays for the count,
            # and every line of long work (the ticker's too) can show the total and an ETA.
            fn = task.total_fn if task.unit and self._clock() - task.started >= self.pace / 2 else None
            task.total_fn = None if fn else task.total_fn
        if fn is not None:  # in the worker's thread, never the ticker's
            try:
                total = fn()
            except Exception:  # noqa: BLE001 - a count is a nicety; the work goes on without it
                total = None
            with self._lock:
                task.total = total
        self._maybe_log()

    def tick(self) -> None:
        """Log a line if one is due (the ticker calls this; tests call it with an injected clock)."""
        self._maybe_log()

    def finish(self) -> None:
        """Closing lines, only after long work: short work logs nothing at all."""
        self._stop.set()
        with self._lock:
            closing = self._closing(self._task)
            self._task = _Task(self._task.label, None, None, "", "", self._clock())
            final = (f"{self.what}: finished in {_duration(self._clock() - self._started)}"
                     if self.lines and not closing else None)
        for line in (closing, final):
            if line:
                self._emit(line)

    # --- the pace --------------------------------------------------------------------------

    def _emit(self, line: str) -> None:
        with self._lock:
            self.lines += 1
        self._log(line)

    def _closing(self, task: _Task) -> str | None:
        """The line that ends a counted task that logged (caller holds the lock)."""
        if not task.lines or not task.unit:
            return None
        elapsed = max(1e-9, self._clock() - task.started)
        return (f"{task.label}: {task.verb} {task.done:,} {task.unit} in {_duration(elapsed)} "
                f"({task.done / elapsed:,.1f} {task.unit}/s), {_errors(task.errors)}")

    def _maybe_log(self) -> None:
        with self._lock:
            now = self._clock()
            if self.every > 0 and now - self._last < self.pace:
                return
            self._last = now
            task = self._task
            task.lines += 1
            line = self._line(task, now)
        self._emit(line)

    def _line(self, task: _Task, now: float) -> str:
        elapsed = max(1e-9, now - task.started)
        if not task.unit:
            return f"{task.label}: still working after {_duration(elapsed)}"
        rate = task.done / elapsed
        if task.total:
            left = max(0, task.total - task.done)
            eta = f"ETA {_duration(left / rate)}" if rate > 0 else "ETA unknown"
            head = f"{task.done:,} / {task.total:,} {task.unit} {task.verb} ({min(1.0, task.done / task.total):.0%})"
        else:
            eta = "ETA unknown (total not known)"
            head = f"{task.done:,} {task.unit} {task.verb} so far"
        return f"{task.label}: {head}, {rate:,.1f} {task.unit}/s, {eta}, {_errors(task.errors)} so far"

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
    """Counts nothing and logs nothing: where nobody asked for progress."""

    def __init__(self) -> None:
        super().__init__("", log=lambda _line: None, every=0, ticker=False)

    def begin(self, *args, **kwargs) -> None:
        pass

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        pass

    def tick(self) -> None:
        pass

    def finish(self) -> None:
        pass
