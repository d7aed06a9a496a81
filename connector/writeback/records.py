"""The write-back's state in the ledger: one ``assessment_outcome`` row per assessment record.

Columns of the shared ledger, as the write-back uses them:
- ``coverbase_id``: the Coverbase assessment; ``payload_hash``: the outcome last written back
  (the change-detection baseline); ``idempotency_key``: the marker of the last (or pending) note;
- ``status``: ``ok`` (written or unchanged), ``pending`` (a write sent, its answer not yet known),
  ``rejected`` (403/404/400 or a dropped note: retried when the outcome changes, or with
  ``retry_rejected``), ``transient`` / ``deferred`` (retried from ``next_attempt_at``);
- ``payload``: ``seq`` (notes written), ``observed`` (the outcome last written), ``fields``
  (column -> the value ServiceNow held after our last write: a different value later is a human
  edit), ``pending`` (the write-ahead intent: marker, outcome, fields, time) and ``attempted_hash``
  (the outcome of the last refused attempt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.sources.servicenow_mapping import SOURCE
from connector.state import LedgerRow, StateDB, utcnow
from connector.writeback.outcome import ENTITY, Observed

OURS = ("ok", "archived", "transient")  # assessment ledger statuses that hold a Coverbase assessment


@dataclass
class Target:
    """An assessment this connector created: its ServiceNow record and its Coverbase assessment."""

    key: str  # ServiceNow sys_id
    label: str
    coverbase_id: str


@dataclass
class OutcomeState:
    seq: int = 0
    written_hash: str | None = None
    observed: Observed | None = None
    fields: dict[str, str] = field(default_factory=dict)
    pending: dict[str, Any] | None = None
    attempted_hash: str | None = None

    @classmethod
    def of(cls, row: LedgerRow | None) -> OutcomeState:
        p = (row.payload if row else None) or {}
        return cls(seq=int(p.get("seq") or 0), written_hash=row.payload_hash if row else None,
                   observed=Observed.from_dict(p.get("observed")), fields=dict(p.get("fields") or {}),
                   pending=p.get("pending"), attempted_hash=p.get("attempted_hash"))

    def payload(self) -> dict[str, Any]:
        return {"seq": self.seq, "observed": self.observed.to_dict() if self.observed else None,
                "fields": self.fields, "pending": self.pending, "attempted_hash": self.attempted_hash}

    def settled(self, row: LedgerRow | None) -> bool:
        """Its terminal outcome is written and nothing is in flight: the sensor stops polling it."""
        return bool(row and row.status == "ok" and not self.pending and self.observed and self.observed.terminal
                    and self.written_hash == self.observed.hash)


def targets(state: StateDB) -> dict[str, Target]:
    return {k: Target(k, r.label or k, r.coverbase_id) for k, r in state.ledger("assessment", SOURCE).items()
            if r.coverbase_id and r.status in OURS}


def outcome_rows(state: StateDB) -> dict[str, LedgerRow]:
    return state.ledger(ENTITY, SOURCE)


def backoff_at(attempts: int, *, base: float = 60.0, cap: float = 3600.0) -> str:
    """When the sensor may ask again for a record that failed ``attempts`` times in a row."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return (datetime.now(UTC) + timedelta(seconds=delay)).strftime("%Y-%m-%dT%H:%M:%SZ")


def due(row: LedgerRow | None, now: str | None = None) -> bool:
    return row is None or not row.next_attempt_at or row.next_attempt_at <= (now or utcnow())


def outcome_row(target: Target, prev: LedgerRow | None, st: OutcomeState, *, status: str, run_id: str,
                reason: str = "", marker: str | None = None, error_class: str | None = None,
                request_id: str | None = None, next_attempt_at: str | None = None) -> LedgerRow:
    now = utcnow()
    base = prev.copy() if prev else LedgerRow(entity=ENTITY, source=SOURCE, source_key=target.key, status=status)
    attempts = 0 if status in ("ok", "pending") else base.attempts + 1
    changes: dict[str, Any] = {
        "status": status, "label": target.label, "coverbase_id": target.coverbase_id, "payload": st.payload(),
        "payload_hash": st.written_hash, "last_operation": "work_note", "run_id": run_id, "updated_at": now,
        "attempts": attempts if status != "pending" else base.attempts, "error_message": reason or None,
        "error_class": error_class if status not in ("ok", "pending") else None,
        "next_attempt_at": next_attempt_at, "idempotency_key": marker or base.idempotency_key,
    }
    if status == "ok" and not base.first_synced_at:
        changes["first_synced_at"] = now
    if request_id:
        changes["request_id"] = request_id
    return base.copy(**changes)
