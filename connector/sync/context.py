"""Everything one run of one entity needs, and the ledger writes workers make.

Workers run HTTP concurrently and hand each result to the ledger writer the moment Coverbase has
answered (``connector/sync/ledger_writer.py``): a killed process loses at most the results of
one group commit, which the next run replays (idempotency keys) or reads back (pending rows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connector.canonical import Snapshot
from connector.config import ConnectorConfig
from connector.coverbase.client import CoverbaseClient
from connector.deadline import Deadline
from connector.errors import ApiError
from connector.sources.base import Source
from connector.state import LedgerRow, StateDB, utcnow
from connector.sync.ledger_writer import LedgerWriter
from connector.sync.outcomes import OK, STATUS_OF_OUTCOME
from connector.sync.report import RunReport
from connector.workers import run_all

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class RunContext:
    run_id: str
    state: StateDB
    cb: CoverbaseClient
    source: Source
    cfg: ConnectorConfig
    snapshot: Snapshot
    report: RunReport
    dry_run: bool = False
    allow_mass_changes: bool = False
    retry_rejected: bool = False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("connector.sync"))
    deadline: Deadline = field(default_factory=Deadline.never)
    # Ledger rows read in this run, per entity; the engine hands one run's pushes the same cache,
    # and every write drops the entity's copy.
    ledger_cache: dict[str, dict[str, LedgerRow]] = field(default_factory=dict)
    writer: LedgerWriter | None = None

    @property
    def source_name(self) -> str:
        return self.snapshot.source

    # --- ledger access ----------------------------------------------------------------------

    def ledger(self, entity: str) -> dict[str, LedgerRow]:
        """The entity's ledger as it was when first asked in this context (planning reads it
        many times; writes go through ``write_ledger``/``forget``, which drop the copy)."""
        if entity not in self.ledger_cache:
            self.ledger_cache[entity] = self.state.ledger(entity, self.source_name)
        return self.ledger_cache[entity]

    def forget(self, entity: str) -> None:
        self.ledger_cache.pop(entity, None)

    def resolved(self, entity: str) -> dict[str, str]:
        """source key -> Coverbase id of records Coverbase holds (plus dry-run stand-ins)."""
        out = {k: r.coverbase_id for k, r in self.ledger(entity).items() if r.status == OK and r.coverbase_id}
        if self.dry_run:
            out.update(self.state.dry_run_ids(self.run_id, entity))
        return out  # type: ignore[return-value]

    @contextmanager
    def ledger_writer(self) -> Iterator[None]:
        """While workers run: their ledger rows go through one group-committing writer."""
        if self.dry_run:
            yield
            return
        self.writer = LedgerWriter(self.state.path, deadline=self.deadline)
        try:
            yield
        finally:
            writer, self.writer = self.writer, None
            writer.close()
            self.ledger_cache.clear()  # anything read while rows were queued may be stale now

    def write_ledger(self, row: LedgerRow, writes: Iterable[dict[str, Any]] = (), *, sync: bool = False) -> None:
        """Record one record's ledger row and its changelog entries together (atomically).
        ``sync`` waits until they are committed (write-ahead rows)."""
        if self.dry_run:
            return
        self.ledger_cache.pop(row.entity, None)
        if self.writer is not None:
            self.writer.put(row, writes, self.run_id, sync=sync)
            return
        with self.state.transaction():
            self.state.upsert_ledger([row])
            for w in writes:
                self.state.log_write(run_id=self.run_id, entity=row.entity, source=row.source,
                                     source_key=row.source_key, **w)

    def mark_pending(self, entity: str, key: str, label: str, base: LedgerRow | None, *, wait: bool = True,
                     **fields: Any) -> LedgerRow:
        """Write-ahead intent before a write whose response may be lost: the next run finds
        ``pending`` and reads back (or replays the idempotency key) instead of creating again.
        ``wait=False`` for writes an idempotency key already protects: the row only has to be
        there if nobody runs again within Coverbase's 24 h replay window."""
        row = (base.copy() if base else LedgerRow(entity=entity, source=self.source_name, source_key=key,
                                                         status="pending"))
        row = row.copy(**{"status": "pending", "label": label, "run_id": self.run_id,
                                     "updated_at": utcnow(), **fields})
        self.write_ledger(row, sync=wait)
        return row

    # --- concurrency ------------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: list[T], workers: int | None = None, *, doing: str = "") -> list[R]:
        """Run reads concurrently (plan-time lookups, downloads) and keep the input order; bounded
        by the run's deadline (``connector/workers.py``)."""
        return run_all(fn, items, workers=workers or self.cfg.sync.coverbase_workers, deadline=self.deadline,
                       name="reader", doing=doing)


def ledger_row_for(ctx: RunContext, entity: str, key: str, label: str, prev: LedgerRow | None, *, outcome: str,
                   reason: str = "", coverbase_id: str | None = None, payload: dict | None = None,
                   payload_hash: str | None = None, error: ApiError | None = None,
                   **extra: Any) -> LedgerRow:
    """The new ledger row for an outcome, carrying over what the outcome does not change."""
    status = STATUS_OF_OUTCOME[outcome]
    now = utcnow()
    base = prev.copy() if prev else LedgerRow(entity=entity, source=ctx.source_name, source_key=key,
                                                    status=status)
    attempts = 0 if status == OK else (base.attempts + 1 if status in ("transient", "rejected") else base.attempts)
    update: dict[str, Any] = {
        "label": label, "status": status, "run_id": ctx.run_id, "updated_at": now, "attempts": attempts,
        "error_class": (error.kind if error else None) if status not in (OK, "archived") else None,
        "error_message": reason or None,
        "next_attempt_at": now if status in ("transient", "deferred") else None,
    }
    if coverbase_id is not None:
        update["coverbase_id"] = coverbase_id
        if not base.first_synced_at:
            update["first_synced_at"] = now
    if payload is not None:
        update["payload"] = payload
    if payload_hash is not None:
        update["payload_hash"] = payload_hash
    if error is not None and error.request_id:
        update["request_id"] = error.request_id
    update.update(extra)
    return base.copy(**update)
