"""What a generated ServiceNow dataset is: its tables, attachment bytes and dirty-case registry,
the sizes it comes in, and the time frame its timestamps fall in.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.emulators import big_sbom

BASE = datetime(2026, 10, 1, tzinfo=UTC)
SPAN_SECONDS = 30 * 24 * 3600
BULK_TS = "2026-10-05 12:00:00"  # a bulk import: hundreds of rows share this second


@dataclass(frozen=True)
class Sizes:
    vendors: int
    non_vendors: int
    users: int
    referenced_users: int
    engagements: int
    attachments: int
    sboms: int
    assessments: int
    bulk_share: float = 0.3


SIZES = {
    "small": Sizes(vendors=30, non_vendors=3, users=70, referenced_users=45, engagements=50, attachments=40,
                   sboms=5, assessments=25),
    "medium": Sizes(vendors=200, non_vendors=8, users=900, referenced_users=400, engagements=450, attachments=400,
                    sboms=12, assessments=150),
    "reference": Sizes(vendors=1000, non_vendors=25, users=5000, referenced_users=2000, engagements=2500,
                       attachments=3000, sboms=100, assessments=800),
}


@dataclass
class Blob:
    """An attachment's bytes: kept in memory, or produced as a deterministic stream."""

    content: bytes | None = None
    stream_size: int = 0
    stream_seed: int = 0
    stream_kind: str = "random"  # or a generated SBOM (connector/emulators/big_sbom.py)

    def chunks(self, chunk: int = 64 * 1024) -> Iterator[bytes]:
        if self.content is not None:
            for i in range(0, len(self.content), chunk):
                yield self.content[i:i + chunk]
            return
        if self.stream_kind != "random":
            yield from big_sbom.chunks(self.stream_kind, self.stream_size, self.stream_seed, chunk)
            return
        block = random.Random(self.stream_seed).randbytes(chunk)
        left = self.stream_size
        while left > 0:
            n = min(chunk, left)
            yield block[:n]
            left -= n


@dataclass(frozen=True)
class DirtyCase:
    code: str
    entity: str  # ledger entity that shows the outcome
    table: str
    sys_id: str
    what: str
    status: str  # ledger status the connector must end in
    reason: str  # substring of the ledger message (empty: none expected)


@dataclass
class Dataset:
    name: str
    seed: int
    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)
    dirty: list[DirtyCase] = field(default_factory=list)

    def rows(self, table: str) -> dict[str, dict[str, str]]:
        return self.tables.setdefault(table, {})


def fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")
