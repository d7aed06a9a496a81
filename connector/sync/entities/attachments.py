"""What documents and BOMs share: where an attachment goes in Coverbase, and pre-flight checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connector.canonical import CanonicalAttachment, Snapshot
from connector.files.content import extension, repair_file_name
from connector.state import LedgerRow
from connector.sync.context import RunContext
from connector.sync.entities.base import Item
from connector.sync.entities.refs import Refs
from connector.sync.outcomes import ARCHIVE, DEFERRED, NOOP, OK, SKIPPED, TRANSIENT

REPLAY_WINDOW = timedelta(hours=23)  # Coverbase replays an Idempotency-Key for 24 h


@dataclass
class Placement:
    vendor_id: str | None = None
    service_ids: list[str] = field(default_factory=list)
    assessment_ids: list[str] = field(default_factory=list)
    assessment_key: str | None = None
    blocked: tuple[str, str] | None = None  # (action, reason) when it cannot be placed yet


class ParentRefs:
    def __init__(self, vendors: Refs, services: Refs, assessments: Refs) -> None:
        self.vendors, self.services, self.assessments = vendors, services, assessments


def live_attachments(snap: Snapshot, ledger: dict[str, LedgerRow], *, boms: bool,
                     items: list[Item]) -> Iterator[tuple[str, CanonicalAttachment, LedgerRow | None]]:
    """The attachments of one entity (BOMs, or everything else) still at the source. One deleted
    at the source gets an archive item appended to ``items`` if Coverbase holds it; so does one
    whose new content made it the other kind (a document re-uploaded as an SBOM, or the reverse):
    the other entity delivers it now, and Coverbase must not keep both."""
    for key in sorted(snap.attachments):
        a = snap.attachments[key]
        prev = ledger.get(key)
        if (a.kind == "bom") != boms:
            if a.kind is not None and not a.deleted and prev and prev.coverbase_id and prev.status in (OK, TRANSIENT):
                now = "a document" if boms else "a bill of materials"
                items.append(Item(key, a.label, ARCHIVE, f"its content is now {now}: delivered as one, this copy "
                                  "archived", prev=prev, coverbase_id=prev.coverbase_id))
            continue
        if a.deleted:
            if prev and prev.coverbase_id and prev.status in (OK, TRANSIENT):
                items.append(Item(key, a.label, ARCHIVE, "deleted at the source", prev=prev,
                                  coverbase_id=prev.coverbase_id))
            continue
        yield key, a, prev


def place(a: CanonicalAttachment, snap: Snapshot, refs: ParentRefs) -> Placement:
    """Vendor, services and assessment of an attachment, from the record it hangs on."""
    p = Placement()
    if a.parent_entity is None or not a.parent_key:
        p.blocked = (SKIPPED, f"attached to {a.parent_table or 'an unknown table'}, which is not synced")
        return p
    vendor_key = service_key = None
    if a.parent_entity == "vendor":
        vendor_key = a.parent_key if a.parent_key in snap.vendors else None
    elif a.parent_entity == "service":
        s = snap.services.get(a.parent_key)
        vendor_key, service_key = (s.vendor_key, a.parent_key) if s else (None, None)
    else:
        x = snap.assessments.get(a.parent_key)
        if x is not None:
            vendor_key, service_key, p.assessment_key = x.vendor_key, x.service_key, a.parent_key
    if vendor_key is None:
        p.blocked = (SKIPPED, f"its {a.parent_entity} record {a.parent_key} is not in the synced data")
        return p
    p.vendor_id = refs.vendors.get(vendor_key)
    if p.vendor_id is None:
        p.blocked = (DEFERRED, f"waiting for {refs.vendors.why_not(vendor_key)}")
        return p
    if service_key:
        sid = refs.services.get(service_key)
        if sid is None:
            p.blocked = (DEFERRED, f"waiting for {refs.services.why_not(service_key)}")
            return p
        p.service_ids = [sid]
    if p.assessment_key:
        aid = refs.assessments.get(p.assessment_key)
        p.assessment_ids = [aid] if aid else []  # else it goes in supporting_document_ids at creation
    return p


def with_safe_name(a: CanonicalAttachment, *, extension_from_type: bool = True
                   ) -> tuple[CanonicalAttachment, dict[str, str | None]]:
    """The attachment under the name Coverbase gets (``file_names.repair_file_name``), and the
    ledger columns that keep the source's name and what was repaired (cleared when nothing was).
    A BOM without an extension gets none from its declared type: its upload names the encoding."""
    name, repairs = repair_file_name(a.file_name, a.key, a.content_type if extension_from_type else None)
    if not repairs:
        return a, {"original_name": None, "repairs": None}
    return a.model_copy(update={"file_name": name}), {"original_name": a.file_name, "repairs": json.dumps(repairs)}


def report_repairs(ctx: RunContext, name: str, items: list[Item]) -> None:
    """Repairs of records this run acts on go to the run report (unchanged ones were reported when made)."""
    rep = ctx.report.entity(name)
    for it in items:
        raw = (it.data.get("ledger") or {}).get("repairs")
        if raw and it.action not in (NOOP, SKIPPED):
            for text in json.loads(raw):
                rep.repaired(it.key, it.label, text)


def preflight(a: CanonicalAttachment, *, max_bytes: int, allowed_extensions: list[str] | None) -> str | None:
    """Why this file must not be sent, decided from metadata alone (no download, no call).
    The name is already the repaired one: a name is never a reason to refuse a file."""
    if a.problems:
        return "; ".join(a.problems)
    if a.size <= 0:
        return "file is empty (0 bytes)"
    if a.size > max_bytes:
        return f"{a.size:,} bytes exceeds Coverbase's limit of {max_bytes:,} bytes (100 MiB)"
    if allowed_extensions is not None:
        ext = extension(a.file_name)
        if ext not in {e.lower() for e in allowed_extensions}:
            shown = f".{ext}" if ext else "(no extension)"
            why = f"; {a.kind_reason}" if a.kind_reason and a.kind_reason.startswith("not a bill of materials") else ""
            return f"file type {shown} is not allowed by Coverbase (allowed: {', '.join(allowed_extensions)}){why}"
    return None


def stale_pending(prev: LedgerRow | None) -> bool:
    """A create left pending longer than Coverbase replays its key: retrying could duplicate."""
    if prev is None or prev.status != "pending" or prev.coverbase_id:
        return False
    try:
        at = datetime.strptime(prev.updated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return datetime.now(UTC) - at > REPLAY_WINDOW


STALE_REASON = ("an earlier create of this record may have succeeded but its idempotency key has expired; "
                "check Coverbase, then re-run with retry_rejected=true to create it")
