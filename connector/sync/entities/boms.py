"""Bills of materials: attachments whose content is CycloneDX or SPDX JSON.

Validated with the maintained libraries before anything is sent (malformed → invalid), then
the upload flow: presigned upload target, PUT of the bytes, ``POST /v1/bill_of_materials``
with the vendor and service links. That POST is not idempotent: the ledger records the
target's ``s3_url`` before it, and an ambiguous answer (or a crash) is resolved by reading the
vendor's BOM history and matching that ``s3_url``. With the org's BOM entitlement off, every
BOM route answers 404: BOMs are deferred with that reason and tried again next run.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from connector.coverbase.errors import CoverbaseAmbiguousWrite, CoverbaseNotFound
from connector.coverbase.models import BomCreate
from connector.errors import ApiError, ContentMismatch
from connector.sync.canonical import CanonicalAttachment, canonical_hash
from connector.sync.content import InvalidBom, extension, private_spool, validate_bom
from connector.sync.context import RunContext
from connector.sync.entities.attachments import live_attachments, place, preflight
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.documents import parent_refs
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
    SKIPPED,
    TRANSIENT,
    UPDATE,
    UPDATED,
    is_fatal,
)

ENTITLEMENT_OFF = ("the Coverbase org's bill-of-materials entitlement is off (every /v1/bill_of_materials route "
                   "answers 404); retried next run")


class BomsSync(EntitySync):
    entity = "bom"
    name = "boms"
    stream = "attachments"

    def plan(self, ctx: RunContext) -> list[Item]:
        snap, cfg = ctx.snapshot, ctx.cfg
        refs = parent_refs(ctx)
        ledger = ctx.ledger(self.entity)
        items: list[Item] = []
        for key, a, prev in live_attachments(snap, ledger, boms=True, items=items):
            if not cfg.boms.enabled:
                items.append(Item(key, a.label, SKIPPED, "BOM sync is disabled in the configuration", prev=prev))
                continue
            problem = preflight(a, max_bytes=cfg.boms.max_bytes, allowed_extensions=None)
            if problem:
                items.append(Item(key, a.label, INVALID, problem, prev=prev))
                continue
            p = place(a, snap, refs)
            if p.blocked:
                items.append(Item(key, a.label, p.blocked[0], p.blocked[1], prev=prev))
                continue
            payload = {"vendor_id": p.vendor_id, "service_ids": sorted(p.service_ids), "name": a.file_name,
                       "extension": extension(a.file_name) or "json", "size": a.size}
            h = canonical_hash({**payload, "content": a.content_version})
            item = Item(key, a.label, CREATE, prev=prev, payload=payload, payload_hash=h,
                        data={"attachment": a, "vendor_id": p.vendor_id})
            if prev and prev.status in (INVALID, REJECTED) and prev.payload_hash == h and not ctx.retry_rejected:
                item.action, item.reason = prev.status, prev.error_message or prev.status
            elif prev and prev.coverbase_id and prev.status == OK and prev.parent_id == p.vendor_id:
                same = (prev.payload or {}).get("_content") == a.content_version
                if same:  # not even on a backfill: re-uploading would add a duplicate to the BOM history
                    item.action, item.coverbase_id = NOOP, prev.coverbase_id
                    if prev.payload_hash != h:
                        item.notes.append("link changes are not sent: a BOM's links are fixed at upload")
                    item.payload, item.payload_hash = prev.payload, prev.payload_hash
                else:
                    item.action = UPDATE  # new content: a new upload becomes the applied BOM
            items.append(item)
        # Validate first: a malformed file is worth knowing about even while the entitlement is off.
        self._validate(ctx, [i for i in items if i.action in (CREATE, UPDATE)])
        self._gate(ctx, items)
        return items

    def _gate(self, ctx: RunContext, items: list[Item]) -> None:
        todo = [i for i in items if i.action in (CREATE, UPDATE)]
        vendor_id = next((i.data["vendor_id"] for i in todo if not i.data["vendor_id"].startswith("dry-run:")), None)
        if vendor_id is None or ctx.cb.bom_entitled(vendor_id):
            return
        for it in todo:
            it.action, it.reason = DEFERRED, ENTITLEMENT_OFF
            if it.data.get("file") is not None:
                it.data.pop("file").close()

    def _validate(self, ctx: RunContext, todo: list[Item]) -> None:
        """Download and validate every BOM about to be sent (also in a dry run: 'malformed' must
        show in the plan). The spooled copy is kept for the upload. Downloads run in parallel;
        validation is CPU work and runs in one thread (threads would only fight over the GIL)."""

        def fetch(it: Item) -> tuple[Item, BinaryIO | None, str | None, Any]:
            a: CanonicalAttachment = it.data["attachment"]
            tmp = private_spool(ctx.cfg.documents.spool_in_memory_bytes)
            try:
                return it, tmp, None, ctx.source.fetch(a, tmp)
            except ContentMismatch as exc:
                tmp.close()
                return it, None, getattr(exc, "message", None) or str(exc), None
            except BaseException:
                tmp.close()
                raise

        for it, tmp, problem, got in ctx.map(fetch, todo):
            if tmp is not None:
                try:
                    info = validate_bom(tmp)
                except InvalidBom as exc:
                    tmp.close()
                    tmp, problem = None, str(exc)
            if problem or tmp is None:
                it.action, it.reason = INVALID, problem or "unreadable"
                continue
            it.data.update(file=tmp, info={"sha256": got.sha256, "size": got.size, "format": info.format,
                                           "spec_version": info.spec_version, "components": info.components})
            it.notes.append(f"{info.format} {info.spec_version}, {info.components} components")
            if ctx.dry_run:
                tmp.close()

    def apply(self, ctx: RunContext, item: Item) -> Result:
        if item.action == ARCHIVE:
            try:
                ctx.cb.archive_bom(item.coverbase_id)  # type: ignore[arg-type]
            except CoverbaseNotFound:
                pass
            return Result(ARCHIVED, "deleted at the source: BOM archived in Coverbase", coverbase_id=item.coverbase_id,
                          writes=[write_log("archive", ok=True, coverbase_id=item.coverbase_id, http_status=200)])
        tmp: BinaryIO = item.data["file"]
        try:
            return self._upload(ctx, item, tmp)
        finally:
            tmp.close()

    def _upload(self, ctx: RunContext, item: Item, tmp: BinaryIO) -> Result:
        a: CanonicalAttachment = item.data["attachment"]
        vid, info, payload = item.data["vendor_id"], item.data["info"], dict(item.payload or {})
        done = CREATED if item.action == CREATE else UPDATED
        stored = {**payload, "_content": a.content_version}
        extra = {"parent_id": vid, "content_sha256": info["sha256"]}
        unconfirmed = item.prev is not None and item.prev.status in ("pending", TRANSIENT)
        pending_s3 = (item.prev.payload or {}).get("s3_url") if unconfirmed else None  # type: ignore[union-attr]
        if pending_s3:  # an earlier run may have created it: look before posting again
            found = self._find(ctx, vid, pending_s3)
            if found:
                return Result(done, "confirmed by read-back of an earlier attempt", coverbase_id=found,
                              payload={**stored, "s3_url": pending_s3}, payload_hash=item.payload_hash, extra=extra)
        s3_url = pending_s3
        writes: list[dict[str, Any]] = []
        if s3_url is None:
            target = ctx.cb.get_upload_target(a.file_name, "application/json")
            ctx.cb.put_to_upload_target(target, tmp, size=info["size"])
            s3_url = target.s3_url
        ctx.mark_pending(self.entity, a.key, a.label, item.prev, payload={**stored, "s3_url": s3_url}, parent_id=vid)
        body = BomCreate(vendor_id=vid, s3_url=s3_url, size=info["size"], name=payload["name"],
                         extension=payload["extension"], service_ids=payload["service_ids"] or None)
        for _ in range(2):
            try:
                bom = ctx.cb.create_bom(body)
                writes.append(write_log("create", ok=True, coverbase_id=bom.id, payload_hash=item.payload_hash,
                                        http_status=200))
                return Result(done, "; ".join(item.notes), coverbase_id=bom.id, payload={**stored, "s3_url": s3_url},
                              payload_hash=item.payload_hash, writes=writes, extra=extra)
            except CoverbaseNotFound as exc:
                return Result(DEFERRED, f"{ENTITLEMENT_OFF} (or vendor {vid} is gone)", error=exc, writes=writes)
            except CoverbaseAmbiguousWrite as exc:
                writes.append(write_log("create", ok=False, error=exc))
                try:
                    found = self._find(ctx, vid, s3_url)
                except ApiError as read_err:
                    if is_fatal(read_err):
                        raise
                    found = None
                if found:
                    return Result(done, "confirmed by read-back after an ambiguous response", coverbase_id=found,
                                  payload={**stored, "s3_url": s3_url}, payload_hash=item.payload_hash, writes=writes,
                                  extra=extra)
        return Result(TRANSIENT, "create was ambiguous twice and the BOM is not in the vendor's history; the next "
                      "run reads it back before posting again", payload={**stored, "s3_url": s3_url}, writes=writes,
                      extra={"parent_id": vid})

    @staticmethod
    def _find(ctx: RunContext, vendor_id: str, s3_url: str) -> str | None:
        for b in ctx.cb.iter_boms(vendor_id=vendor_id, include_archived=True):
            if b.document and b.document.s3_url == s3_url:
                return b.id
        return None
