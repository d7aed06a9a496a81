"""Bills of materials: attachments whose content is CycloneDX or SPDX (JSON, XML or tag-value).

Which attachments are BOMs was decided by content at extraction (``attachment_probe``). Each
one is then delivered by the worker that owns it, in one pass: download into a private spool,
read it (``bom_validate.analyse_bom``: a streamed well-formedness check and component count, then
the libraries' schema findings as advice), upload, close. Content that is not a BOM anyone could
parse (not JSON/XML/tag-value, no format marker, truncated) is ``invalid`` with the parser's
message; with ``boms.validation: strict`` so is a schema finding. CycloneDX XML and SPDX
tag-value are a vendor's SBOM too: they are uploaded, and Coverbase, which parses only the JSON
formats, answers ``parse_status: unsupported`` (kept in the ledger, shown as a warning).

The upload flow: presigned upload target, PUT of the bytes, ``POST /v1/bill_of_materials`` with
the vendor and service links. That POST is not idempotent: the ledger records the target's
``s3_url`` before it, and an ambiguous answer (or a crash) is resolved by reading the vendor's
BOM history and matching that ``s3_url``. With the org's BOM entitlement off, every BOM route
answers 404: BOMs are deferred with that reason and tried again next run. After the uploads,
Coverbase's parse verdict is read back (``bom_verdicts``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from connector.canonical import CanonicalAttachment, canonical_hash
from connector.coverbase.errors import CoverbaseAmbiguousWrite, CoverbaseNotFound
from connector.coverbase.models import BomCreate
from connector.errors import ApiError, ContentMismatch
from connector.files.bom_detect import JSON, TAG_VALUE, XML
from connector.files.bom_validate import BomAnalysis, NotABom, StrictRefusal, analyse_bom
from connector.files.content import extension, private_spool
from connector.sync.bom_verdicts import refresh_verdicts
from connector.sync.context import RunContext
from connector.sync.entities.attachments import live_attachments, place, preflight, report_repairs, with_safe_name
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
    PREDICTED_OUTCOME,
    REJECTED,
    SKIPPED,
    TRANSIENT,
    UPDATE,
    UPDATED,
    is_fatal,
)
from connector.sync.report import EntityReport

ENTITLEMENT_OFF = ("the Coverbase org's bill-of-materials entitlement is off (every /v1/bill_of_materials route "
                   "answers 404); retried next run")
DEFAULT_EXTENSION = {JSON: "json", XML: "xml", TAG_VALUE: "spdx"}
CONTENT_TYPE = {JSON: "application/json", XML: "application/xml", TAG_VALUE: "text/plain"}
LINKS_FIXED = "link changes are not sent: a BOM's links are fixed at upload"
DETECTED = "detected at extraction: "
# How content was judged. An ``invalid`` verdict of another policy (or of the rules before
# issue 12) is judged again: same bytes, new rules.
POLICY_VERSION = 2


def policy(ctx: RunContext) -> str:
    return f"{ctx.cfg.boms.validation}:v{POLICY_VERSION}"


class BomsSync(EntitySync):
    entity = "bom"
    name = "boms"
    stream = "attachments"
    depends_on = ("services",)
    sleep = staticmethod(time.sleep)  # the pause between verdict reads (tests replace it)

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._gate_closed = False

    # --- plan -------------------------------------------------------------------------------

    def plan(self, ctx: RunContext) -> list[Item]:
        snap, cfg = ctx.snapshot, ctx.cfg
        refs = parent_refs(ctx)
        ledger = ctx.ledger(self.entity)
        items: list[Item] = []
        for key, a, prev in live_attachments(snap, ledger, boms=True, items=items):
            a, names = with_safe_name(a, extension_from_type=False)
            if not cfg.boms.enabled:
                items.append(Item(key, a.label, SKIPPED, "BOM sync is disabled in the configuration", prev=prev))
                continue
            problem = preflight(a, max_bytes=cfg.boms.max_bytes, allowed_extensions=None)
            if problem:
                items.append(Item(key, a.label, INVALID, problem, prev=prev, data={"ledger": names}))
                continue
            p = place(a, snap, refs)
            if p.blocked:
                items.append(Item(key, a.label, p.blocked[0], p.blocked[1], prev=prev, data={"ledger": names}))
                continue
            payload = {"vendor_id": p.vendor_id, "service_ids": sorted(p.service_ids), "name": a.file_name,
                       "extension": extension(a.file_name), "size": a.size}
            h = canonical_hash({**payload, "content": a.content_version})
            item = Item(key, a.label, CREATE, prev=prev, payload=payload, payload_hash=h,
                        data={"attachment": a, "vendor_id": p.vendor_id, "ledger": names})
            same_hash = prev is not None and prev.payload_hash == h
            if prev and prev.status == REJECTED and same_hash and not ctx.retry_rejected:
                item.action, item.reason = REJECTED, prev.error_message or "rejected by Coverbase"
            elif prev and prev.status == INVALID and same_hash and (prev.payload or {}).get("_policy") == policy(ctx):
                item.action, item.reason = INVALID, prev.error_message or "invalid"  # same bytes, same rules
            elif prev and prev.coverbase_id and prev.status == OK and prev.parent_id == p.vendor_id:
                same = (prev.payload or {}).get("_content") == a.content_version
                if same:  # not even on a backfill: re-uploading would add a duplicate to the BOM history
                    item.action, item.coverbase_id = NOOP, prev.coverbase_id
                    item.reason = prev.error_message or ""  # what was read at upload stays the record's message
                    if prev.payload_hash != h and LINKS_FIXED not in item.reason:
                        item.reason = "; ".join(filter(None, [item.reason, LINKS_FIXED]))
                    item.payload, item.payload_hash = prev.payload, prev.payload_hash
                    item.data.pop("ledger")  # the repair was recorded with the upload
                else:
                    item.action = UPDATE  # new content: a new upload becomes the applied BOM
            if item.action in (CREATE, UPDATE):
                item.notes += json.loads(names["repairs"]) if names["repairs"] else []
                if a.kind_reason:
                    item.notes.append(f"{DETECTED}{a.kind_reason}")
            items.append(item)
        self._gate(ctx, items)
        report_repairs(ctx, self.name, items)
        self._items = items
        return items

    def _gate(self, ctx: RunContext, items: list[Item]) -> None:
        todo = [i for i in items if i.action in (CREATE, UPDATE)]
        vendor_id = next((i.data["vendor_id"] for i in todo if not i.data["vendor_id"].startswith("dry-run:")), None)
        if vendor_id is None or ctx.cb.bom_entitled(vendor_id):
            return
        self._gate_closed = True
        for it in todo:
            it.action, it.reason = DEFERRED, ENTITLEMENT_OFF

    # --- the run: deliver, then report warnings and read Coverbase's verdicts -----------------

    def run(self, ctx: RunContext) -> EntityReport:
        calls_before = ctx.cb.calls.total
        rep = super().run(ctx)
        for it in self._items:
            analysis: BomAnalysis | None = it.data.get("analysis")
            for w in analysis.warnings if analysis else []:
                rep.warn(it.key, it.label, w)
        if not ctx.dry_run and ctx.cfg.boms.enabled and not self._gate_closed:
            fresh = {it.key for it in self._items if it.data.get("uploaded")}
            try:
                refresh_verdicts(ctx, rep, fresh=fresh, sleep=self.sleep)
            finally:
                rep.finish(ctx.cb.calls.total - calls_before)
        return rep

    def predict(self, ctx: RunContext, item: Item) -> str:
        """Dry run: download and read the file as the real run would (invalid shows in the plan)."""
        if item.action not in (CREATE, UPDATE):
            return super().predict(ctx, item)
        a: CanonicalAttachment = item.data["attachment"]
        with private_spool(ctx.cfg.documents.spool_in_memory_bytes) as tmp:
            try:
                got = ctx.source.fetch(a, tmp)
                item.data["analysis"] = self._analyse(ctx, tmp, got.size)
            except (ContentMismatch, NotABom, StrictRefusal) as exc:
                item.reason = self._refusal(exc)
                return INVALID
        return PREDICTED_OUTCOME[item.action]

    @staticmethod
    def _analyse(ctx: RunContext, tmp: Any, size: int) -> BomAnalysis:
        b = ctx.cfg.boms
        return analyse_bom(tmp, size, mode=b.validation, validation_max_bytes=b.validation_max_bytes)

    @staticmethod
    def _refusal(exc: Exception) -> str:
        if isinstance(exc, NotABom):
            return f"not a bill of materials Coverbase could parse: {exc}"
        return getattr(exc, "message", None) or str(exc)

    # --- apply ------------------------------------------------------------------------------

    def apply(self, ctx: RunContext, item: Item) -> Result:
        if item.action == ARCHIVE:
            try:
                ctx.cb.archive_bom(item.coverbase_id)  # type: ignore[arg-type]
            except CoverbaseNotFound:
                pass
            return Result(ARCHIVED, f"{item.reason or 'deleted at the source'}: BOM archived in Coverbase",
                          coverbase_id=item.coverbase_id,
                          writes=[write_log("archive", ok=True, coverbase_id=item.coverbase_id, http_status=200)])
        return self._deliver(ctx, item)

    def _deliver(self, ctx: RunContext, item: Item) -> Result:
        a: CanonicalAttachment = item.data["attachment"]
        vid, payload = item.data["vendor_id"], dict(item.payload or {})
        done = CREATED if item.action == CREATE else UPDATED
        stored = {**payload, "_content": a.content_version}
        unconfirmed = item.prev is not None and item.prev.status in ("pending", TRANSIENT)
        pending_s3 = (item.prev.payload or {}).get("s3_url") if unconfirmed else None  # type: ignore[union-attr]
        if pending_s3:  # an earlier run may have created it: look before posting again
            found = self._find(ctx, vid, pending_s3)
            if found:
                return Result(done, "confirmed by read-back of an earlier attempt", coverbase_id=found,
                              payload={**stored, "s3_url": pending_s3}, payload_hash=item.payload_hash,
                              extra={"parent_id": vid})
        with private_spool(ctx.cfg.documents.spool_in_memory_bytes) as tmp:
            try:
                got = ctx.source.fetch(a, tmp)
                analysis = self._analyse(ctx, tmp, got.size)
            except (ContentMismatch, NotABom, StrictRefusal) as exc:
                return Result(INVALID, self._refusal(exc), payload={**stored, "_policy": policy(ctx)},
                              payload_hash=item.payload_hash, error=exc if isinstance(exc, ApiError) else None,
                              extra=_columns(None))
            item.data["analysis"] = analysis
            s3_url = pending_s3
            if s3_url is None:
                target = ctx.cb.get_upload_target(a.file_name, CONTENT_TYPE[analysis.facts.encoding or JSON])
                ctx.cb.put_to_upload_target(target, tmp, size=got.size)
                s3_url = target.s3_url
        extra = {"parent_id": vid, "content_sha256": got.sha256, **_columns(analysis)}
        reason = "; ".join([analysis.summary(), *(n for n in item.notes if not n.startswith(DETECTED))])
        ctx.mark_pending(self.entity, a.key, a.label, item.prev, payload={**stored, "s3_url": s3_url}, parent_id=vid)
        body = BomCreate(vendor_id=vid, s3_url=s3_url, size=got.size, name=payload["name"],
                         extension=payload["extension"] or DEFAULT_EXTENSION[analysis.facts.encoding or JSON],
                         service_ids=payload["service_ids"] or None)
        writes: list[dict[str, Any]] = []
        for _ in range(2):
            try:
                bom = ctx.cb.create_bom(body)
                writes.append(write_log("create", ok=True, coverbase_id=bom.id, payload_hash=item.payload_hash,
                                        http_status=200))
                item.data["uploaded"] = True
                return Result(done, reason, coverbase_id=bom.id, payload={**stored, "s3_url": s3_url},
                              payload_hash=item.payload_hash, writes=writes,
                              extra={**extra, "parse_status": bom.parse_status or "pending"})
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
                    item.data["uploaded"] = True
                    return Result(done, f"{reason}; confirmed by read-back after an ambiguous response",
                                  coverbase_id=found, payload={**stored, "s3_url": s3_url},
                                  payload_hash=item.payload_hash, writes=writes, extra=extra)
        return Result(TRANSIENT, "create was ambiguous twice and the BOM is not in the vendor's history; the next "
                      "run reads it back before posting again", payload={**stored, "s3_url": s3_url}, writes=writes,
                      extra={"parent_id": vid})

    @staticmethod
    def _find(ctx: RunContext, vendor_id: str, s3_url: str) -> str | None:
        for b in ctx.cb.iter_boms(vendor_id=vendor_id, include_archived=True):
            if b.document and b.document.s3_url == s3_url:
                return b.id
        return None


def _columns(analysis: BomAnalysis | None) -> dict[str, Any]:
    """The ledger's BOM columns for what the connector read (Coverbase's verdict comes later)."""
    if analysis is None:
        return {"bom_format": None, "bom_spec_version": None, "component_count": None, "warnings": None,
                "parse_status": None, "parse_error": None, "parsed_component_count": None}
    f = analysis.facts
    return {"bom_format": f.format, "bom_spec_version": f.spec_version, "component_count": f.components,
            "warnings": json.dumps(analysis.warnings) if analysis.warnings else None, "parse_status": "pending",
            "parse_error": None, "parsed_component_count": None}
