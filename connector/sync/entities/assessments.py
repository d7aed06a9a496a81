"""Assessments: started with an Idempotency-Key derived from the source record.

``sn:sn_vdr_risk_asmt_assessment:<sys_id>`` is the same on every retry, restart and rerun;
Coverbase replays it for 24 h and the ledger keeps the created id forever after, so a record
is never assessed twice. Uploaded attachments of the record go in ``supporting_document_ids``.
A record cancelled or deleted after creation archives its assessment (behind the circuit breaker).
Coverbase has no assessment update endpoint: later edits of the source record are not sent.
"""

from __future__ import annotations

from connector.canonical import CanonicalAssessment, canonical_hash
from connector.coverbase.errors import CoverbaseBadRequest, CoverbaseConflict, CoverbaseNotFound
from connector.coverbase.models import AssessmentCreate
from connector.sync.context import RunContext
from connector.sync.entities.attachments import STALE_REASON, stale_pending
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.documents import document_hash
from connector.sync.entities.refs import Refs
from connector.sync.entities.repairs import note_repairs
from connector.sync.entities.users import eligible
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
)
from connector.sync.payloads import assessment_payload

# The sweep sees only what the integration user can read: a record hidden by a new filter or ACL
# looks deleted too, which the message says and the circuit breaker bounds.
DELETED_REASON = ("record no longer in ServiceNow (deleted, or now outside the configured filter or the "
                  "integration user's row ACLs)")


class AssessmentsSync(EntitySync):
    entity = "assessment"
    name = "assessments"
    stream = "assessments"
    depends_on = ("documents", "services", "users")

    def control_sets(self, ctx: RunContext, x: CanonicalAssessment) -> tuple[list[str], str | None]:
        m = ctx.cfg.assessments.control_sets_by_template
        for k in (x.template_key, x.template_name):
            if k and k in m:
                return list(m[k]), None
        shown = x.template_name or x.template_key or "(none)"
        return [], f"no control sets mapped for template {shown!r}: created with control_set_ids []"

    def plan(self, ctx: RunContext) -> list[Item]:
        snap, cfg = ctx.snapshot, ctx.cfg
        users = Refs(ctx, "user", {k: u.label for k, u in snap.users.items()})
        vendors = Refs(ctx, "vendor", {k: v.label for k, v in snap.vendors.items()})
        services = Refs(ctx, "service", {k: s.label for k, s in snap.services.items()})
        ledger = ctx.ledger(self.entity)
        docs_by_parent: dict[str, list[tuple[str, str]]] = {}
        for dkey, row in ctx.ledger("document").items():
            a = snap.attachments.get(dkey)
            if row.status == OK and row.coverbase_id and a and a.parent_entity == "assessment" and not a.deleted:
                docs_by_parent.setdefault(a.parent_key or "", []).append((dkey, row.coverbase_id))
        archive_states = {s.lower() for s in cfg.assessments.archive_states}
        workflow_missing = self._workflow_missing(ctx)
        items: list[Item] = []
        for key in sorted(snap.assessments):
            x = snap.assessments[key]
            prev = ledger.get(key)
            state = (x.state or "").lower()
            if prev and prev.status == ARCHIVED:
                items.append(Item(key, x.label, NOOP, prev=prev, coverbase_id=prev.coverbase_id,
                                  payload_hash=prev.payload_hash))
                continue
            if prev and prev.coverbase_id and prev.status in (OK, TRANSIENT) and prev.last_operation != "archive":
                if x.deleted:
                    items.append(Item(key, x.label, ARCHIVE, DELETED_REASON, prev=prev, coverbase_id=prev.coverbase_id))
                elif state in archive_states:
                    items.append(Item(key, x.label, ARCHIVE, f"state {x.state!r} at the source", prev=prev,
                                      coverbase_id=prev.coverbase_id))
                else:
                    items.append(Item(key, x.label, NOOP, prev=prev, coverbase_id=prev.coverbase_id,
                                      payload_hash=prev.payload_hash))
                continue
            if x.deleted:
                items.append(Item(key, x.label, SKIPPED, f"{DELETED_REASON}: never assessed", prev=prev))
                continue
            if x.problems:
                items.append(Item(key, x.label, INVALID, "; ".join(x.problems), prev=prev))
                continue
            if not eligible(x, cfg):
                items.append(Item(key, x.label, SKIPPED, f"state {x.state!r} is not eligible for an assessment "
                                  f"(ineligible: {', '.join(cfg.assessments.ineligible_states)})", prev=prev))
                continue
            if not x.vendor_key:
                items.append(Item(key, x.label, INVALID, "assessment has no vendor, and no engagement with a vendor to "
                                  "take it from", prev=prev))
                continue
            vid = vendors.get(x.vendor_key)
            if vid is None:
                why = (vendors.why_not(x.vendor_key) if x.vendor_key in snap.vendors
                       else f"vendor {x.vendor_key} not found in the source")
                items.append(Item(key, x.label, DEFERRED, f"waiting for {why}", prev=prev))
                continue
            service_ids = []
            if x.service_key:
                sid = services.get(x.service_key)
                if sid is None:
                    items.append(Item(key, x.label, DEFERRED, f"waiting for {services.why_not(x.service_key)}",
                                      prev=prev))
                    continue
                service_ids = [sid]
            notes = []
            assignee = users.get(x.assignee_key)
            if x.assignee_key and not assignee:
                notes.append(f"created without assignee: {users.why_not(x.assignee_key)}")
            control_sets, note = self.control_sets(ctx, x)
            if note:
                notes.append(note)
            docs = docs_by_parent.get(key, [])
            payload = assessment_payload(x, vendor_id=vid, service_ids=service_ids, assignee_id=assignee,
                                         control_set_ids=control_sets, supporting_document_ids=[d[1] for d in docs],
                                         cfg=cfg)
            h = canonical_hash(payload)
            item = Item(key, x.label, CREATE, prev=prev, payload=payload, payload_hash=h, notes=notes,
                        data={"doc_keys": [d[0] for d in docs], "vendor_id": vid})
            if workflow_missing:
                item.action, item.reason = REJECTED, workflow_missing
            elif prev and prev.status == REJECTED and prev.payload_hash == h and not ctx.retry_rejected:
                item.action, item.reason = REJECTED, prev.error_message or "rejected by Coverbase"
            elif stale_pending(prev) and not ctx.retry_rejected:
                item.action, item.reason = REJECTED, STALE_REASON
            items.append(item)
        for it in items:
            note_repairs(ctx, self.name, it, snap.assessments.get(it.key))
        return items

    def _workflow_missing(self, ctx: RunContext) -> str | None:
        """One read tells whether the configured trigger_workflow exists (404 workflow_not_found)."""
        name = ctx.cfg.assessments.trigger_workflow
        if not name or ctx.cb.workflow_exists(name):
            return None
        return (f"trigger_workflow {name!r} does not exist in Coverbase (404 workflow_not_found); "
                "fix assessments.trigger_workflow")

    def apply(self, ctx: RunContext, item: Item) -> Result:
        if item.action == ARCHIVE:
            ctx.cb.archive_assessment(item.coverbase_id)  # type: ignore[arg-type]
            return Result(ARCHIVED, item.reason + ": assessment archived in Coverbase", coverbase_id=item.coverbase_id,
                          writes=[write_log("archive", ok=True, coverbase_id=item.coverbase_id, http_status=200)])
        generation = item.prev.idem_generation if item.prev else 1
        base = f"{ctx.source.key_prefix(self.entity)}:{item.key}"
        key = base if generation <= 1 else f"{base}:g{generation}"
        ctx.mark_pending(self.entity, item.key, item.label, item.prev, wait=False, idempotency_key=key)
        try:
            a = ctx.cb.create_assessment(AssessmentCreate(**item.payload), idempotency_key=key)  # type: ignore[arg-type]
        except (CoverbaseBadRequest, CoverbaseNotFound, CoverbaseConflict) as exc:
            return Result(REJECTED, str(exc), error=exc, payload_hash=item.payload_hash,
                          writes=[write_log("create", ok=False, error=exc)], extra={"idempotency_key": key})
        return Result(CREATED, "; ".join(item.notes), coverbase_id=a.id, payload=item.payload,
                      payload_hash=item.payload_hash,
                      extra={"idempotency_key": key, "parent_id": item.data["vendor_id"]},
                      writes=[write_log("create", ok=True, coverbase_id=a.id, payload_hash=item.payload_hash,
                                        http_status=201)])

    def after_apply(self, ctx: RunContext, item: Item, result: Result) -> None:
        """Supporting documents are now linked to the assessment in Coverbase: record that in
        their ledger rows, so the next run does not PATCH the link again."""
        if result.outcome != CREATED or not item.data.get("doc_keys"):
            return
        rows = []
        for dkey in item.data["doc_keys"]:
            row = ctx.state.ledger_row("document", ctx.source_name, dkey)
            a = ctx.snapshot.attachments.get(dkey)
            if row is None or a is None or row.payload is None:
                continue
            payload = {k: v for k, v in row.payload.items() if not k.startswith("_")}
            payload["assessment_ids"] = sorted(set(payload.get("assessment_ids") or []) | {result.coverbase_id})
            stored = {**row.payload, "assessment_ids": payload["assessment_ids"]}
            rows.append(row.copy(**{"payload": stored, "payload_hash": document_hash(payload, a)}))
        with ctx.state.transaction():
            ctx.state.upsert_ledger(rows)
        ctx.forget("document")
