"""The source interface: what the sync engine needs from ServiceNow or a file export.

A source fills the staging tables (``extract``), turns staging into canonical records
(``snapshot``) and fetches attachment bytes (``fetch``). Everything downstream (ledger,
idempotency keys, dry run, report) is the same whichever source it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from connector.canonical import CanonicalAttachment, Snapshot
from connector.deadline import Deadline
from connector.servicenow.attachments import Downloaded
from connector.state import StateDB


@dataclass
class StreamStats:
    stream: str
    pages: int = 0
    records: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    classified: int = 0
    page_size_halvings: int = 0
    duplicates_dropped: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, int]:
        return {"pages": self.pages, "records_read": self.records, "new_or_changed": self.changed,
                "unchanged": self.unchanged, "deleted_in_source": self.deleted, "classified": self.classified,
                "page_size_halvings": self.page_size_halvings}


@dataclass(frozen=True)
class Window:
    """A backfill: re-read records updated in [start, end) and send them again."""

    start: str  # "YYYY-MM-DD HH:MM:SS" UTC
    end: str


class Source(Protocol):
    name: str
    streams: tuple[str, ...]

    def check(self) -> dict[str, str]:
        """Connectivity and configuration check; raises a fatal error with a clear message."""

    def extract(self, stream: str, state: StateDB, *, run_id: str | None, full_refresh: bool = False,
                window: Window | None = None) -> StreamStats: ...

    def snapshot(self, state: StateDB) -> Snapshot: ...

    def key_prefix(self, entity: str) -> str:
        """Idempotency-key prefix of an entity's records, e.g. ``sn:core_company``."""

    def fetch(self, attachment: CanonicalAttachment, dest: BinaryIO) -> Downloaded: ...

    def set_deadline(self, deadline: Deadline) -> None:
        """Bound every wait of the source (its API client, its workers) by the run's deadline."""

    def close(self) -> None: ...
