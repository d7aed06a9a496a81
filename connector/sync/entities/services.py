"""Services: ``POST /v1/vendors/{id}/services`` is NOT idempotent. Never a duplicate:

- before creating under a vendor this run did not create itself, read the vendor back and
  match ``services[].external_id`` (covers lost state, crashes, earlier manual work);
- a write-ahead ``pending`` row goes in the ledger before the POST;
- an ambiguous failure (timeout, reset, 5xx after commit) is followed by a read-back; only if
  the service is absent is the POST sent again.
"""

from __future__ import annotations

from connector.canonical import canonical_hash
from connector.coverbase.errors import CoverbaseAmbiguousWrite, CoverbaseNotFound
from connector.coverbase.models import Service, ServiceCreate, Vendor
from connector.state import utcnow
from connector.sync.context import RunContext
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.refs import Refs
from connector.sync.entities.repairs import note_repairs
from connector.sync.outcomes import (
    CREATE,
    CREATED,
    DEFERRED,
    INVALID,
    LINK,
    LINKED,
    NOOP,
    OK,
    TRANSIENT,
    UPDATE,
    UPDATED,
)
from connector.sync.payloads import diff, service_payload, service_update


def _current(svc: Service) -> dict:
    return {"name": svc.name, "description": svc.description, "external_id": svc.external_id,
            "relationship_owner_ids": sorted(svc.relationship_owner_ids)}


class ServicesSync(EntitySync):
    entity = "service"
    name = "services"
    stream = "engagements"
    depends_on = ("vendors", "users")

    def plan(self, ctx: RunContext) -> list[Item]:
        snap = ctx.snapshot
        users = Refs(ctx, "user", {k: u.label for k, u in snap.users.items()})
        vendors = Refs(ctx, "vendor", {k: v.label for k, v in snap.vendors.items()})
        ledger = ctx.ledger(self.entity)
        items: list[Item] = []
        for key in sorted(snap.services):
            s = snap.services[key]
            prev = ledger.get(key)
            if s.problems:
                items.append(Item(key, s.label, INVALID, "; ".join(s.problems), prev=prev))
                continue
            if not s.name:
                items.append(Item(key, s.label, INVALID, "name is empty and the engagement has no number to name it "
                                  "after", prev=prev))
                continue
            if not s.vendor_key:
                items.append(Item(key, s.label, INVALID, "engagement has no vendor", prev=prev))
                continue
            if s.vendor_key not in snap.vendors:
                ref = snap.company_refs.get(s.vendor_key)
                if ref is not None and not ref.is_vendor:
                    items.append(Item(key, s.label, INVALID, f"company {ref.name!r} ({ref.key}) is not a vendor "
                                      "(core_company.vendor=false)", prev=prev))
                else:
                    items.append(Item(key, s.label, DEFERRED, f"vendor {s.vendor_key} not found in the source "
                                      "(deleted, or not readable by the integration user)", prev=prev))
                continue
            vid = vendors.get(s.vendor_key)
            if vid is None:
                items.append(Item(key, s.label, DEFERRED, f"waiting for {vendors.why_not(s.vendor_key)}", prev=prev))
                continue
            owners, notes = users.resolve_many(s.owner_keys)
            payload = service_payload(s, owners)
            h = canonical_hash(payload)
            item = Item(key, s.label, CREATE, prev=prev, payload=payload, payload_hash=h, notes=notes,
                        data={"vendor_id": vid, "vendor_key": s.vendor_key,
                              "fresh_vendor": s.vendor_key in vendors.created_this_run})
            if prev and prev.coverbase_id and prev.parent_id == vid and prev.status in (OK, TRANSIENT):
                item.coverbase_id = prev.coverbase_id
                settled = prev.status == OK and not s.force
                changes = {} if settled and prev.payload_hash == h else diff(prev.payload, payload)
                if settled and not changes:
                    item.action = NOOP
                else:
                    item.action = UPDATE
                    item.data["changes"] = changes if prev.status == OK and not s.force else \
                        {k: v for k, v in payload.items() if k != "external_id"}
            items.append(item)
        self._read_back(ctx, [i for i in items if i.action == CREATE and not i.data["fresh_vendor"]])
        for it in items:
            note_repairs(ctx, self.name, it, snap.services.get(it.key))
        return items

    def _read_back(self, ctx: RunContext, creates: list[Item]) -> None:
        """One GET per vendor whose services we might already have created."""
        vendor_ids = sorted({i.data["vendor_id"] for i in creates if not i.data["vendor_id"].startswith("dry-run:")})

        def get(vid: str) -> Vendor | None:
            try:
                return ctx.cb.get_vendor(vid)
            except CoverbaseNotFound:
                return None

        vendors = dict(zip(vendor_ids, ctx.map(get, vendor_ids)))
        for it in creates:
            vid = it.data["vendor_id"]
            if vid not in vendors:
                continue
            vendor = vendors[vid]
            if vendor is None:
                it.action = DEFERRED
                it.reason = f"vendor {vid} answered 404 (deleted in Coverbase by hand?); it is verified next run"
                if not ctx.dry_run:
                    mark_vendor_for_verification(ctx, it.data["vendor_key"])
                continue
            match = next((svc for svc in vendor.services if svc.external_id == it.key), None)
            if match is not None:
                it.action, it.coverbase_id = LINK, match.id
                it.data["changes"] = diff(_current(match), it.payload or {})

    def apply(self, ctx: RunContext, item: Item) -> Result:
        vid = item.data["vendor_id"]
        extra = {"parent_id": vid}
        if item.action in (UPDATE, LINK):
            changes = item.data.get("changes") or {}
            try:
                if changes:
                    ctx.cb.update_service(vid, item.coverbase_id, service_update(changes))  # type: ignore[arg-type]
            except CoverbaseNotFound as exc:
                return Result(DEFERRED, f"{exc.code or 'not found'}: the service or its vendor {vid} is gone from "
                              "Coverbase; the vendor is verified next run", error=exc,
                              extra={"coverbase_id": None, **extra},
                              signals={"vendor_missing": item.data["vendor_key"]})
            return Result(LINKED if item.action == LINK else UPDATED, "; ".join(item.notes),
                          coverbase_id=item.coverbase_id, payload=item.payload, payload_hash=item.payload_hash,
                          extra=extra, writes=[write_log("update", ok=True, coverbase_id=item.coverbase_id,
                                                         payload_hash=item.payload_hash, http_status=200)]
                                              if changes else [])
        ctx.mark_pending(self.entity, item.key, item.label, item.prev, parent_id=vid)
        writes = []
        for attempt in range(2):
            try:
                svc = ctx.cb.create_service(vid, ServiceCreate(**item.payload))  # type: ignore[arg-type]
                writes.append(write_log("create", ok=True, coverbase_id=svc.id, payload_hash=item.payload_hash,
                                        http_status=201))
                return Result(CREATED, "; ".join(item.notes), coverbase_id=svc.id, payload=item.payload,
                              payload_hash=item.payload_hash, extra=extra, writes=writes)
            except CoverbaseNotFound as exc:
                return Result(DEFERRED, f"vendor {vid} answered 404 (deleted in Coverbase by hand?); it is verified "
                              "next run", error=exc, extra=extra, signals={"vendor_missing": item.data["vendor_key"]},
                              writes=[write_log("create", ok=False, error=exc)])
            except CoverbaseAmbiguousWrite as exc:
                writes.append(write_log("create", ok=False, error=exc))
                found = self._find(ctx, vid, item.key)
                if found is not None:
                    return Result(CREATED, "confirmed by read-back after an ambiguous response", coverbase_id=found,
                                  payload=item.payload, payload_hash=item.payload_hash, extra=extra, writes=writes)
        return Result(TRANSIENT, "create was ambiguous twice and the service is not visible on read-back; the next "
                      "run reads the vendor back before creating", extra=extra, writes=writes)

    @staticmethod
    def _find(ctx: RunContext, vendor_id: str, external_id: str) -> str | None:
        vendor = ctx.cb.get_vendor(vendor_id)
        return next((s.id for s in vendor.services if s.external_id == external_id), None)

    def after_apply(self, ctx: RunContext, item: Item, result: Result) -> None:
        missing = result.signals.get("vendor_missing")
        if missing:
            mark_vendor_for_verification(ctx, missing)


def mark_vendor_for_verification(ctx: RunContext, vendor_key: str) -> None:
    """A child write found the vendor gone: the vendor's next plan re-sends it (and re-creates
    it under a new idempotency-key generation if Coverbase answers 404)."""
    row = ctx.state.ledger_row("vendor", ctx.source_name, vendor_key)
    if row is None or row.status != OK:
        return
    with ctx.state.transaction():
        ctx.state.upsert_ledger([row.copy(**{
            "status": TRANSIENT, "updated_at": utcnow(),
            "error_message": f"vendor {row.coverbase_id} answered 404 to a child write; verified next run"})])
    ctx.forget("vendor")
