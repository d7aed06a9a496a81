"""One thread writes the ledger for all workers, committing in groups.

Eight workers each opening ``BEGIN IMMEDIATE`` contend for SQLite's write lock, and SQLite's
busy handler answers contention by sleeping milliseconds. Instead workers hand rows to this
thread, which commits everything queued in one transaction. A write-ahead ``pending`` row is
still committed before its POST (``sync=True`` waits for the commit); a final result may sit in
the queue for one group commit, and a crash in that window only repeats a write that the next
run replays (idempotency key) or reads back (pending row, ``external_id``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.sync.state import LedgerRow, StateDB


@dataclass
class _Job:
    row: LedgerRow
    writes: list[dict[str, Any]]
    run_id: str
    done: threading.Event | None = None
    error: list[BaseException] = field(default_factory=list)


_STOP = object()


class LedgerWriter:
    def __init__(self, path: str | Path, *, max_batch: int = 500) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._path = path
        self._max_batch = max_batch
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="ledger-writer", daemon=True)
        self._thread.start()

    def put(self, row: LedgerRow, writes: Iterable[dict[str, Any]], run_id: str, *, sync: bool = False) -> None:
        if self._failure is not None:
            raise RuntimeError(f"the ledger writer failed: {self._failure}") from self._failure
        job = _Job(row, list(writes), run_id, threading.Event() if sync else None)
        self._queue.put(job)
        if job.done is not None:
            job.done.wait()
            if job.error:
                raise job.error[0]

    def close(self) -> None:
        """Commit everything queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._failure is not None:
            raise RuntimeError(f"the ledger writer failed: {self._failure}") from self._failure

    def _loop(self) -> None:
        db = StateDB(self._path)
        try:
            stopping = False
            while not stopping:
                jobs = [self._queue.get()]
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
                for j in jobs:
                    if j.done is not None:
                        j.done.set()
        finally:
            db.close()
