"""One thread writes the ledger for all workers, committing in groups.

Eight workers each opening ``BEGIN IMMEDIATE`` contend for SQLite's write lock, and SQLite's
busy handler answers contention by sleeping milliseconds. Instead workers hand rows to this
thread, which commits everything queued in one transaction. A write-ahead ``pending`` row is
still committed before its POST (``sync=True`` waits for the commit); a final result may sit in
the queue for one group commit, and a crash in that window only repeats a write that the next
run replays (idempotency key) or reads back (pending row, ``external_id``).

Every wait is bounded, and a dead writer is noticed at once:
- ``put`` refuses new rows once the writer failed, naming the cause;
- a ``sync`` put waits in steps and gives up when the writer thread has died or the deadline
  has passed (never waits forever for a commit that cannot come);
- ``close`` waits for the queue to drain within ``close_timeout``; if rows could not be
  committed it raises with their number and the cause. No row is dropped silently: a row that
  never reached the ledger belongs to a write whose record is still ``pending`` (or unwritten),
  which the next run reads back or replays.

Lock order: see docs/architecture.md, "Locks and waits". Workers call ``put`` outside any
request slot; the writer thread holds only SQLite's lock while it commits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.deadline import Deadline
from connector.errors import FatalSyncError
from connector.state import LedgerRow, StateDB


class LedgerWriterFailed(FatalSyncError):
    """The ledger could not be written: the run stops (every later outcome would be lost)."""


@dataclass
class _Job:
    row: LedgerRow
    writes: list[dict[str, Any]]
    run_id: str
    done: threading.Event | None = None
    error: list[BaseException] = field(default_factory=list)


_STOP = object()


class LedgerWriter:
    def __init__(self, path: str | Path, *, max_batch: int = 500, deadline: Deadline | None = None,
                 poll: float = 0.5, close_timeout: float = 120.0) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._path = path
        self._max_batch = max_batch
        self._deadline = deadline or Deadline.never()
        self._poll = poll
        self._close_timeout = close_timeout
        self._failure: BaseException | None = None
        self._committed = 0
        self._queued = 0
        self._lock = threading.Lock()  # guards the two counters only
        self._thread = threading.Thread(target=self._loop, name="ledger-writer", daemon=True)
        self._thread.start()

    def _failed(self, what: str) -> LedgerWriterFailed:
        cause = self._failure
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else "the writer thread stopped"
        return LedgerWriterFailed(f"the ledger writer failed ({reason}); {what}. The run stops: outcomes that are "
                                  "not in the ledger are read back or replayed by the next run.")

    def put(self, row: LedgerRow, writes: Iterable[dict[str, Any]], run_id: str, *, sync: bool = False) -> None:
        if self._failure is not None or not self._thread.is_alive():
            raise self._failed(f"ledger row of {row.entity} {row.source_key} not written")
        job = _Job(row, list(writes), run_id, threading.Event() if sync else None)
        with self._lock:
            self._queued += 1
        self._queue.put(job)
        if job.done is None:
            return
        while not job.done.wait(self._poll):
            if not self._thread.is_alive():
                raise self._failed(f"write-ahead row of {row.entity} {row.source_key} not committed")
            self._deadline.check(f"waiting for the ledger to commit {row.entity} {row.source_key}")
        if job.error:
            raise self._failed(f"write-ahead row of {row.entity} {row.source_key} not committed") from job.error[0]

    def close(self) -> None:
        """Commit everything queued, then stop (bounded by ``close_timeout``)."""
        self._queue.put(_STOP)
        self._thread.join(self._close_timeout)
        with self._lock:
            lost = self._queued - self._committed
        if self._thread.is_alive():
            raise LedgerWriterFailed(f"the ledger writer did not finish within {self._close_timeout:.0f} s "
                                     f"({lost} ledger rows not committed)")
        if self._failure is not None or lost:
            raise self._failed(f"{lost} ledger rows not committed")

    def _loop(self) -> None:
        try:
            db = StateDB(self._path)
        except BaseException as exc:  # noqa: BLE001 - reported to every caller
            self._failure = exc
            return
        try:
            stopping = False
            while not stopping:
                jobs = [self._queue.get()]  # idle until a worker hands over a row or close() says stop
                while len(jobs) < self._max_batch:
                    try:
                        jobs.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if _STOP in jobs:
                    stopping = True
                    jobs = [j for j in jobs if j is not _STOP]
                if not jobs:
                    continue
                try:
                    with db.transaction():
                        db.upsert_ledger([j.row for j in jobs])
                        for j in jobs:
                            for w in j.writes:
                                db.log_write(run_id=j.run_id, entity=j.row.entity, source=j.row.source,
                                             source_key=j.row.source_key, **w)
                except BaseException as exc:  # noqa: BLE001 - reported to every waiter and at close
                    self._failure = exc
                    for j in jobs:
                        j.error.append(exc)
                        if j.done is not None:
                            j.done.set()
                    return  # the rows still queued are counted as lost by close()
                with self._lock:
                    self._committed += len(jobs)
                for j in jobs:
                    if j.done is not None:
                        j.done.set()
        finally:
            db.close()
