"""Documents: attachments that are not BOMs, streamed from the source into ``POST /v1/documents``.

The name is repaired, never a reason to refuse (``file_names.py``: the source's name stays in
the ledger's ``original_name``). Pre-flight (size, extension) before any download; bytes spooled privately (memory up
to a few MiB, then an anonymous temp file), checked against the source's sha256, then
uploaded with ``Idempotency-Key: sn:sys_attachment:<sys_id>:<sha256 prefix>``. Content is
addressed by sha256: unchanged bytes are never uploaded twice; changed bytes are uploaded and
the previous document archived; links and names are PATCHed. An attachment deleted at the
source archives its document (behind the circuit breaker).
"""

from __future__ import annotations

import json
from typing import Any

from connector.canonical import CanonicalAttachment, canonical_hash
from connector.coverbase.errors import CoverbaseBadRequest, CoverbaseNotFound, CoverbasePayloadTooLarge
from connector.coverbase.models import DocumentFields, DocumentUpdate
from connector.errors import ApiError, ContentMismatch
from connector.files.content import private_spool
from connector.sync.context import RunContext
from connector.sync.entities.attachments import (
    STALE_REASON,
    ParentRefs,
    live_attachments,
    place,
    preflight,
    report_repairs,
    stale_pending,
    with_safe_name,
)
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.refs import Refs
from connector.sync.outcomes import (
    ARCHIVE,
    ARCHIVED,
    CREATE,
    CREATED,
    DEFERRED,
    INVALID,
    NOOP,
    OK,
    REJECTED,
    TRANSIENT,
    UNCHANGED,
    UPDATE,
    UPDATED,
)
from connector.sync.payloads import diff, document_payload

PREDICT_READ_BYTES = 64 * 1024


def document_hash(payload: dict[str, Any], a: CanonicalAttachment) -> str:
    return canonical_hash({**payload, "content": a.content_version})


def parent_refs(ctx: RunContext) -> ParentRefs:
    snap = ctx.snapshot
    return ParentRefs(Refs(ctx, "vendor", {k: v.label for k, v in snap.vendors.items()}),
                      Refs(ctx, "service", {k: s.label for k, s in snap.services.items()}),
                      Refs(ctx, "assessment", {k: x.label for k, x in snap.assessments.items()}, include_archived=True))


class DocumentsSync(EntitySync):
    entity = "document"
    name = "documents"
    stream = "attachments"
    depends_on = ("services",)

    def plan(self, ctx: RunContext) -> list[Item]:
        snap, cfg = ctx.snapshot, ctx.cfg
        refs = parent_refs(ctx)
        ledger = ctx.ledger(self.entity)
        items: list[Item] = []
        for key, a, prev in live_attachments(snap, ledger, boms=False, items=items):
            a, names = with_safe_name(a)
            problem = preflight(a, max_bytes=cfg.documents.max_bytes,
                                allowed_extensions=cfg.documents.allowed_extensions)
            if problem:
                items.append(Item(key, a.label, INVALID, problem, prev=prev, data={"ledger": names}))
                continue
            if a.kind == "corrupt":
                items.append(Item(key, a.label, INVALID, a.kind_reason or "content does not match its hash", prev=prev))
                continue
            if a.kind is None:
                items.append(Item(key, a.label, DEFERRED, "content not classified yet (the probe failed); retried "
                                  "next run", prev=prev))
                continue
            p = place(a, snap, refs)
            if p.blocked:
                items.append(Item(key, a.label, p.blocked[0], p.blocked[1], prev=prev))
                continue
            payload = document_payload(a, p.vendor_id, p.service_ids, p.assessment_ids, cfg)  # type: ignore[arg-type]
            h = document_hash(payload, a)
            item = Item(key, a.label, CREATE, prev=prev, payload=payload, payload_hash=h,
                        data={"attachment": a, "vendor_id": p.vendor_id, "ledger": names},
                        notes=json.loads(names["repairs"]) if names["repairs"] else [])
            if prev and prev.status == INVALID and prev.payload_hash == h:
                item.action, item.reason = INVALID, prev.error_message or "invalid"  # e.g. hash mismatch: same bytes
            elif prev and prev.status == REJECTED and prev.payload_hash == h and not ctx.retry_rejected:
                item.action, item.reason = REJECTED, prev.error_message or "rejected by Coverbase"
            elif stale_pending(prev) and not ctx.retry_rejected:
                item.action, item.reason = REJECTED, STALE_REASON
            elif prev and prev.coverbase_id and prev.parent_id == p.vendor_id and prev.status in (OK, TRANSIENT):
                item.coverbase_id = prev.coverbase_id
                same_content = (prev.payload or {}).get("_content") == a.content_version
                settled = prev.status == OK and same_content and not a.force
                changes = {} if settled and prev.payload_hash == h else \
                    diff({k: v for k, v in (prev.payload or {}).items() if not k.startswith("_")}, payload)
                changes.pop("vendor_id", None)
                if settled and not changes:
                    item.action, item.payload, item.payload_hash = NOOP, prev.payload, prev.payload_hash
                elif not same_content:
                    item.action, item.data["replace"] = UPDATE, True
                else:
                    item.action, item.data["changes"] = UPDATE, changes or {
                        k: v for k, v in payload.items()
                        if k in ("name", "document_type", "service_ids", "assessment_ids")}
            items.append(item)
        report_repairs(ctx, self.name, items)
        return items

    def predict(self, ctx: RunContext, item: Item) -> str:
        """A dry run reads small files whole to know whether their bytes match the source's
        hash, as the real upload will check (a mismatch is invalid, not created)."""
        a: CanonicalAttachment | None = item.data.get("attachment")
        if item.action in (CREATE, UPDATE) and a is not None and a.sha256 and a.size <= PREDICT_READ_BYTES:
            with private_spool(PREDICT_READ_BYTES) as tmp:
                try:
                    ctx.source.fetch(a, tmp)
                except ContentMismatch:
                    return INVALID
        return super().predict(ctx, item)

    def apply(self, ctx: RunContext, item: Item) -> Result:
        if item.action == ARCHIVE:
            return self._archive(ctx, item)
        if item.action == UPDATE and not item.data.get("replace"):
            try:
                ctx.cb.update_document(item.coverbase_id, DocumentUpdate(**item.data["changes"]))  # type: ignore[arg-type]
            except CoverbaseNotFound:
                return self._upload(ctx, item, generation=(item.prev.idem_generation if item.prev else 1) + 1,
                                    note="the document was gone from Coverbase (archived by hand?); uploaded again")
            return Result(UPDATED, coverbase_id=item.coverbase_id, payload=self._stored(item),
                          payload_hash=item.payload_hash,
                          writes=[write_log("update", ok=True, coverbase_id=item.coverbase_id,
                                            payload_hash=item.payload_hash, http_status=200)])
        return self._upload(ctx, item, generation=item.prev.idem_generation if item.prev else 1)

    @staticmethod
    def _stored(item: Item, sha: str | None = None) -> dict[str, Any]:
        a: CanonicalAttachment = item.data["attachment"]
        out = {**(item.payload or {}), "_content": a.content_version}
        if sha:
            out["_sha256"] = sha
        return out

    def _upload(self, ctx: RunContext, item: Item, *, generation: int, note: str = "") -> Result:
        a: CanonicalAttachment = item.data["attachment"]
        replace = item.data.get("replace") and item.prev and item.prev.coverbase_id
        with private_spool(ctx.cfg.documents.spool_in_memory_bytes) as tmp:
            try:
                got = ctx.source.fetch(a, tmp)
            except ContentMismatch as exc:
                return Result(INVALID, getattr(exc, "message", str(exc)), payload_hash=item.payload_hash,
                              error=exc if isinstance(exc, ApiError) else None)
            if replace and item.prev.content_sha256 == got.sha256:  # type: ignore[union-attr]
                # New version stamp, same bytes: nothing to upload.
                return Result(UNCHANGED, "content unchanged (same sha256)", coverbase_id=item.prev.coverbase_id,  # type: ignore[union-attr]
                              payload=self._stored(item, got.sha256), payload_hash=item.payload_hash)
            prefix = ctx.source.key_prefix(self.entity)
            key = f"{prefix}:{a.key}:{got.sha256[:16]}" + (f":g{generation}" if generation > 1 else "")
            ctx.mark_pending(self.entity, a.key, a.label, item.prev, wait=False, idempotency_key=key,
                             idem_generation=generation)
            try:
                doc = ctx.cb.upload_document(DocumentFields(**item.payload), filename=a.file_name, source=tmp,  # type: ignore[arg-type]
                                             content_type=a.content_type or "application/octet-stream",
                                             size=got.size, idempotency_key=key)
            except (CoverbaseBadRequest, CoverbasePayloadTooLarge) as exc:
                return Result(REJECTED, str(exc), error=exc, payload_hash=item.payload_hash,
                              writes=[write_log("create", ok=False, error=exc)])
        writes = [write_log("create", ok=True, coverbase_id=doc.id, payload_hash=item.payload_hash, http_status=201)]
        notes = [note] if note else []
        if replace:
            old = item.prev.coverbase_id  # type: ignore[union-attr]
            try:
                ctx.cb.archive_document(old)  # type: ignore[arg-type]
                writes.append(write_log("archive", ok=True, coverbase_id=old, http_status=200))
                notes.append(f"new content uploaded; previous document {old} archived")
            except CoverbaseNotFound:
                notes.append(f"new content uploaded; previous document {old} was already gone")
            except ApiError as exc:
                notes.append(f"new content uploaded; archiving previous document {old} failed: {exc.message}")
                writes.append(write_log("archive", ok=False, coverbase_id=old, error=exc))
        return Result(UPDATED if replace else CREATED, "; ".join(notes), coverbase_id=doc.id,
                      payload=self._stored(item, got.sha256), payload_hash=item.payload_hash, writes=writes,
                      extra={"content_sha256": got.sha256, "parent_id": item.data["vendor_id"], "idempotency_key": key,
                             "idem_generation": generation})

    def _archive(self, ctx: RunContext, item: Item) -> Result:
        try:
            ctx.cb.archive_document(item.coverbase_id)  # type: ignore[arg-type]
            note = "document archived in Coverbase"
        except CoverbaseNotFound:
            note = "document was already gone from Coverbase"
        note = f"{item.reason or 'deleted at the source'}: {note}"
        return Result(ARCHIVED, note, coverbase_id=item.coverbase_id,
                      writes=[write_log("archive", ok=True, coverbase_id=item.coverbase_id, http_status=200)])
