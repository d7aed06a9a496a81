"""Where an issue's finding goes: an assessment this connector created, else a vendor.

- the issue references an assessment the ledger holds as created (``ok``) → that assessment;
- it references one that will be created but is not yet (no row and eligible, or ``pending`` /
  ``transient`` / ``deferred``) → the issue waits (``deferred``): a finding cannot move later;
- otherwise (skipped, invalid, rejected, archived, not in the source) → the vendor, with a note;
- the vendor is the issue's own, else its engagement's, else its assessment's; one not synced yet
  → ``deferred``; a company that is not a vendor → ``invalid``; none at all → ``invalid``.

An existing finding keeps an archived assessment as its target (archiving an assessment
archives its findings too; the issue did not move).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.canonical import CanonicalIssue
from connector.sync.context import RunContext
from connector.sync.entities.refs import Refs
from connector.sync.entities.users import eligible
from connector.sync.outcomes import ARCHIVED, DEFERRED, INVALID, PENDING, TRANSIENT


@dataclass
class Placement:
    kind: str = ""  # "vendor_id" or "assessment_id"
    id: str = ""
    notes: list[str] = field(default_factory=list)
    blocked: tuple[str, str] | None = None  # (action, reason)


class Placer:
    """Built once per plan: the Coverbase ids of vendors and assessments, and why others have none."""

    def __init__(self, ctx: RunContext) -> None:
        snap = ctx.snapshot
        self.ctx = ctx
        self.vendors = Refs(ctx, "vendor", {k: v.label for k, v in snap.vendors.items()})
        self.assessments = Refs(ctx, "assessment", {k: a.label for k, a in snap.assessments.items()})

    def place(self, x: CanonicalIssue, *, existing: bool = False) -> Placement:
        snap, cfg = self.ctx.snapshot, self.ctx.cfg
        svc = snap.services.get(x.service_key or "")
        asmt = snap.assessments.get(x.assessment_key or "")
        vendor_key = x.vendor_key or (svc.vendor_key if svc else None) or (asmt.vendor_key if asmt else None)
        notes: list[str] = []
        if x.assessment_key:
            aid = self.assessments.get(x.assessment_key)
            if aid:
                return Placement("assessment_id", aid)
            row = self.assessments.ledger.get(x.assessment_key)
            if existing and row is not None and row.status == ARCHIVED and row.coverbase_id:
                return Placement("assessment_id", row.coverbase_id)
            label = f"{asmt.label} ({x.assessment_key})" if asmt else x.assessment_key
            upcoming = row is None or row.status in (PENDING, TRANSIENT, DEFERRED)
            if asmt is not None and not asmt.deleted and upcoming and eligible(asmt, cfg):
                why = row.error_message if row is not None and row.error_message else "not synced yet"
                return Placement(blocked=(DEFERRED, f"waiting for assessment {label}: {why}"))
            if asmt is None:
                why = "not in the source"
            elif row is None:
                why = "never created"
            else:
                why = f"{row.status}: {row.error_message}" if row.error_message else row.status
            notes.append(f"assessment {label} is not one this connector created ({why}): placed on the vendor")
        if not vendor_key:
            if x.assessment_key and asmt is None:
                return Placement(blocked=(DEFERRED, f"waiting: assessment {x.assessment_key} is not in the source "
                                                    "and the issue names no vendor or engagement"))
            return Placement(blocked=(INVALID, "no vendor: the issue names no vendor, engagement or assessment"))
        vid = self.vendors.get(vendor_key)
        if vid:
            return Placement("vendor_id", vid, notes)
        if vendor_key not in snap.vendors:
            ref = snap.company_refs.get(vendor_key)
            if ref is not None and not ref.is_vendor:
                return Placement(blocked=(INVALID, f"company {ref.name!r} ({ref.key}) is not a vendor "
                                                   "(core_company.vendor=false)"))
            return Placement(blocked=(DEFERRED, f"waiting for vendor {vendor_key}: not found in the source (deleted, "
                                                "or not readable by the integration user)"))
        return Placement(blocked=(DEFERRED, f"waiting for {self.vendors.why_not(vendor_key)}"))
