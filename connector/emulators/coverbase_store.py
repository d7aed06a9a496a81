"""In-memory state and business rules of the Coverbase emulator (contract §2, checklist §3.1).

One store object, put together from one part per resource, each in its own module over the
shared state (``coverbase_state.py``): users, vendors and services, documents and BOMs,
assessments and workflow runs, findings (``coverbase_findings.py``). The HTTP layer calls its
methods holding ``lock``.

Written from the contract independently of the client's models, on purpose: if both sides
shared one schema, a misreading of the docs would pass every test.
"""

from __future__ import annotations

from typing import Any

from connector.emulators import fixtures
from connector.emulators.coverbase_assessments import AssessmentRecords
from connector.emulators.coverbase_boms import BomRecords
from connector.emulators.coverbase_findings import FindingRules, snapshot_of
from connector.emulators.coverbase_users import UserRecords
from connector.emulators.coverbase_vendors import VendorRecords


class CoverbaseStore(UserRecords, VendorRecords, BomRecords, AssessmentRecords):
    """All state, guarded by one lock (handlers run on the event loop, tests read from threads)."""

    def __init__(self, api_keys: dict[str, str] | None = None, *, keep_file_bytes: int = 2 * 1024 * 1024,
                 idempotency_scope: str = "path") -> None:
        super().__init__(keep_file_bytes=keep_file_bytes, idempotency_scope=idempotency_scope)
        self.finding_rules = FindingRules(self)  # the rules over self.findings
        main = self.add_org("cborg_" + "0" * 31 + "1", "Emulated Org")
        foreign = self.add_org("cborg_" + "0" * 31 + "2", "Another Org")
        for key, org in (api_keys or {fixtures.DEMO_API_KEY: main.id}).items():
            self.api_keys[key] = org
        for email in fixtures.FOREIGN_ORG_EMAILS:
            self._insert_user(foreign.id, email, None, None, "org:member", "active")

    # --- inspection -------------------------------------------------------------------------

    def snapshot(self) -> dict:
        """Everything stored, per org, for tests and benchmarks (outside /v1)."""
        with self.lock:
            out: dict[str, Any] = {}
            for org in self.orgs.values():
                oid = org.id
                docs = [dict(self.document_view(d), is_archived=d["is_archived"], sha256=d["sha256"])
                        for d in self.documents.values() if d["org"] == oid and not d.get("_bom")]
                out[oid] = {
                    "name": org.name,
                    "bom_entitled": org.bom_entitled,
                    "users": [self.user_view(u) for u in self.users.values() if u["org"] == oid],
                    "vendors": [self.vendor_view(v) for v in self.vendors.values() if v["org"] == oid],
                    "documents": docs,
                    "boms": [dict(self.bom_view(b, with_components=False, count_read=False), s3_url=b["s3_url"],
                                  sha256=self.objects.get(b["s3_url"], {}).get("sha256"))
                             for b in self.boms.values() if b["org"] == oid],
                    "assessments": [dict(self.assessment_view(a, with_run=True), is_archived=a["is_archived"],
                                         supporting_document_ids=a["supporting_document_ids"])
                                    for a in self.assessments.values() if a["org"] == oid],
                    "workflow_runs": [{k: v for k, v in r.items() if not k.startswith("_") and k != "org"}
                                      for r in self.workflow_runs.values() if r["org"] == oid],
                    "findings": snapshot_of(self, oid),
                }
            return out
