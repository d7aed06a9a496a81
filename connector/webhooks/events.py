"""Verified webhook events in the state DB (``webhook_events``, migration 5), deduplicated by event id.

Delivery is at least once and unordered: the first delivery of an ``event_id`` is stored, later
ones only count. ``Assessment.StatusChanged`` events stay open until the outcomes sensor has
re-read their assessment; other event types are acknowledged and closed at once.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from connector.state import StateDB, utcnow

STATUS_CHANGED = "Assessment.StatusChanged"
RETENTION_DAYS = 7  # longer than any delivery may be old (the receiver's max age): replays are caught


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    occurred_at: int | None
    assessment_id: str | None = None
    old_status: str | None = None
    new_status: str | None = None


class EventStore:
    """One connection shared by the receiver's threads (SQLite serialises the writes anyway)."""

    def __init__(self, path: str | Path) -> None:
        StateDB(path).close()  # create the file (0600) and run the migrations once
        self._conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.Lock()
        self._inserted = 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record(self, event: Event, signature: str) -> Literal["stored", "duplicate"]:
        actionable = event.event_type == STATUS_CHANGED and bool(event.assessment_id)
        now = utcnow()
        sig = hashlib.sha256(signature.encode()).hexdigest()  # never the signature itself
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO webhook_events (event_id, event_type, assessment_id, old_status, new_status, "
                "occurred_at, received_at, signature_sha256, last_delivery_at, processed_at, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event.event_id, event.event_type, event.assessment_id, event.old_status, event.new_status,
                 event.occurred_at, now, sig, now, None if actionable else now,
                 None if actionable else "acknowledged; not acted on"])
            if cur.rowcount == 0:
                self._conn.execute("UPDATE webhook_events SET deliveries = deliveries + 1, last_delivery_at = ? "
                                   "WHERE event_id = ?", [now, event.event_id])
                return "duplicate"
            self._inserted += 1
            if self._inserted % 500 == 0:
                self._conn.execute("DELETE FROM webhook_events WHERE processed_at IS NOT NULL "
                                   "AND received_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)",
                                   [f"-{RETENTION_DAYS} days"])
            return "stored"


def open_nudges(state: StateDB, limit: int = 1000) -> list[tuple[str, str]]:
    """(event_id, assessment_id) of status changes the sensor has not acted on yet, oldest first."""
    return [(r[0], r[1]) for r in state.db.execute(
        "SELECT event_id, assessment_id FROM webhook_events WHERE event_type = ? AND processed_at IS NULL "
        "ORDER BY received_at, event_id LIMIT ?", [STATUS_CHANGED, limit])]


def close_events(state: StateDB, event_ids: list[str], outcome: str) -> None:
    now = utcnow()
    with state.transaction():
        for eid in event_ids:
            state.db.execute("UPDATE webhook_events SET processed_at = ?, outcome = ? WHERE event_id = ? "
                             "AND processed_at IS NULL", [now, outcome, eid])
