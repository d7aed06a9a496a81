"""Everything one run of one entity needs, and the ledger writes workers make.

Workers run HTTP concurrently; each commits its own result through a thread-local SQLite
connection the moment Coverbase has answered, so a killed process loses at most the writes
in flight (and those are covered by idempotency keys or read-back on the next run).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connector.coverbase.client import CoverbaseClient
from connector.errors import ApiError
from connector.sources.base import Source
from connector.sync.canonical import Snapshot
from connector.sync.config import ConnectorConfig
from connector.sync.outcomes import OK, STATUS_OF_OUTCOME
from connector.sync.report import RunReport
from connector.sync.state import LedgerRow, StateDB, utcnow

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
    _local: threading.local = field(default_factory=threading.local)
    _conns: list[StateDB] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def source_name(self) -> str:
        return self.snapshot.source

    # --- ledger access ----------------------------------------------------------------------

    def ledger(self, entity: str) -> dict[str, LedgerRow]:
        return self.state.ledger(entity, self.source_name)

    def resolved(self, entity: str) -> dict[str, str]:
        """source key -> Coverbase id of records Coverbase holds (plus dry-run stand-ins)."""
        out = {k: r.coverbase_id for k, r in self.ledger(entity).items() if r.status == OK and r.coverbase_id}
        if self.dry_run:
            out.update(self.state.dry_run_ids(self.run_id, entity))
        return out  # type: ignore[return-value]

    def thread_state(self) -> StateDB:
        """A SQLite connection owned by the calling thread (sqlite3 objects are per-thread)."""
        if threading.current_thread() is threading.main_thread():
            return self.state
        db = getattr(self._local, "db", None)
        if db is None:
            db = StateDB(self.state.path, shared_close=True)
            self._local.db = db
            with self._lock:
                self._conns.append(db)
        return db

    def close_thread_states(self) -> None:
        with self._lock:
            for db in self._conns:
                db.close()
            self._conns.clear()
        self._local = threading.local()

    def write_ledger(self, row: LedgerRow, writes: Iterable[dict[str, Any]] = ()) -> None:
        """Commit one record's ledger row and its changelog entries together."""
        if self.dry_run:
            return
        db = self.thread_state()
        with db.transaction():
            db.upsert_ledger([row])
            for w in writes:
                db.log_write(run_id=self.run_id, entity=row.entity, source=row.source, source_key=row.source_key,
                             **w)

    def mark_pending(self, entity: str, key: str, label: str, base: LedgerRow | None, **fields: Any) -> LedgerRow:
        """Write-ahead intent before a write whose response may be lost: the next run finds
        ``pending`` and reads back (or replays the idempotency key) instead of creating again."""
        row = (base.model_copy() if base else LedgerRow(entity=entity, source=self.source_name, source_key=key,
                                                         status="pending"))
        row = row.model_copy(update={"status": "pending", "label": label, "run_id": self.run_id,
                                     "updated_at": utcnow(), **fields})
        self.write_ledger(row)
        return row

    # --- concurrency ------------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: list[T], workers: int | None = None) -> list[R]:
        """Run reads concurrently (plan-time lookups, downloads) and keep the input order."""
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=workers or self.cfg.sync.concurrency) as pool:
            return list(pool.map(fn, items))


def ledger_row_for(ctx: RunContext, entity: str, key: str, label: str, prev: LedgerRow | None, *, outcome: str,
                   reason: str = "", coverbase_id: str | None = None, payload: dict | None = None,
                   payload_hash: str | None = None, error: ApiError | None = None,
                   **extra: Any) -> LedgerRow:
    """The new ledger row for an outcome, carrying over what the outcome does not change."""
    status = STATUS_OF_OUTCOME[outcome]
    now = utcnow()
    base = prev.model_copy() if prev else LedgerRow(entity=entity, source=ctx.source_name, source_key=key,
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
    return base.model_copy(update=update)
