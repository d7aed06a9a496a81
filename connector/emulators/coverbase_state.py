"""The state every part of the Coverbase emulator's store shares (contract §2, checklist §3.1).

``StoreState`` holds the records of every resource, one lock over all of them, the store's clock
and id sequence, the orgs with their API keys, and the idempotency cache. The per-resource rules
live in their own modules (users, vendors and services, documents, BOMs, assessments, findings),
each a mixin over this state; ``coverbase_store.CoverbaseStore`` puts them together.

Written from the contract independently of the client's models, on purpose: if both sides
shared one schema, a misreading of the docs would pass every test.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from connector.emulators import fixtures

IDEMPOTENCY_TTL = 24 * 3600


@dataclass
class Org:
    id: str
    name: str
    bom_entitled: bool = True
    workflows: dict[str, bool] = field(default_factory=lambda: dict(fixtures.WORKFLOWS))
    control_sets: dict[str, str] = field(default_factory=lambda: dict(fixtures.CONTROL_SETS))
    statuses: dict[str, str] = field(default_factory=lambda: dict(fixtures.STATUSES))
    tags: dict[str, str] = field(default_factory=lambda: dict(fixtures.TAGS))


class StoreState:
    """All state, guarded by one lock (handlers run on the event loop, tests read from threads)."""

    def __init__(self, *, keep_file_bytes: int = 2 * 1024 * 1024, idempotency_scope: str = "path") -> None:
        self.lock = threading.RLock()
        self.keep_file_bytes = keep_file_bytes
        # BOM parse lifecycle (async in Coverbase): this many reads see "parsing", the next one the verdict.
        self.bom_parse_reads = 1
        self.idempotency_scope = idempotency_scope  # "path" or "route" (contract §4 q2) [INF]
        self.clock_offset = 0.0
        self.orgs: dict[str, Org] = {}
        self.api_keys: dict[str, str] = {}
        self.users: dict[str, dict] = {}
        self.users_by_email: dict[str, str] = {}
        self.vendors: dict[str, dict] = {}
        self.services: dict[str, dict] = {}
        self.documents: dict[str, dict] = {}
        self.objects: dict[str, dict] = {}  # s3_url -> {size, sha256, content, content_type}
        self.upload_tokens: dict[str, dict] = {}
        self.boms: dict[str, dict] = {}
        self.assessments: dict[str, dict] = {}
        self.workflow_runs: dict[str, dict] = {}
        self.findings: dict[str, dict] = {}  # rules in coverbase_findings.py
        self.assessment_findings_carry_vendor = True  # [INF] an assessment's findings also show its vendor_id
        self.idempotency: dict[tuple[str, str, str], tuple[float, int, Any]] = {}
        self._seq = 0
        self._id_seq = 0

    # --- basics -----------------------------------------------------------------------------

    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    def next_seq(self) -> int:
        """Creation order of records (listings sort newest first by it)."""
        self._seq += 1
        return self._seq

    def new_id(self, prefix: str) -> str:
        """``prefix_`` + 32 hex, from this store's own sequence: the same requests in the same order
        get the same ids on every run, so seeded faults (which depend on request bodies, ids
        included) fall on the same requests every time."""
        with self.lock:
            self._id_seq += 1
            n = self._id_seq
        return f"{prefix}_{hashlib.sha256(f'{prefix}:{n}'.encode()).hexdigest()[:32]}"

    def add_org(self, org_id: str, name: str) -> Org:
        org = Org(org_id, name)
        self.orgs[org_id] = org
        return org

    def org_for_key(self, token: str | None) -> Org | None:
        org_id = self.api_keys.get(token or "")
        return self.orgs.get(org_id) if org_id else None

    @property
    def main_org(self) -> Org:
        return next(iter(self.orgs.values()))

    # --- idempotency ------------------------------------------------------------------------

    def idem_lookup(self, org: str, scope: str, key: str) -> tuple[int, Any] | None:
        hit = self.idempotency.get((org, scope, key))
        if hit is None:
            return None
        expires, status, body = hit
        if self.now() >= expires:
            del self.idempotency[(org, scope, key)]
            return None
        return status, json.loads(body)

    def idem_store(self, org: str, scope: str, key: str, status: int, body: Any) -> None:
        # Keyed by (org, endpoint, key), 24 h from first use, replayed verbatim (contract §1.8).
        self.idempotency.setdefault((org, scope, key), (self.now() + IDEMPOTENCY_TTL, status, json.dumps(body)))
