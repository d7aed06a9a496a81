"""Vendors: idempotent create, look up by external_id first, PATCH only what changed.

- no Coverbase id in the ledger → look up ``external_id`` (one listing of all vendors when that
  is cheaper than one query per vendor); found → link (and PATCH to the desired state);
- otherwise ``POST /v1/vendors`` with ``Idempotency-Key: sn:core_company:<sys_id>`` (a new
  generation suffix only if the vendor was deleted in Coverbase by hand), then PATCH status
  and tags, which the create endpoint does not accept;
- afterwards PATCH only the changed fields; a 404 means the vendor was deleted in Coverbase:
  it is created again under the next key generation and its children follow.
"""

from __future__ import annotations

import math
from typing import Any

from connector.canonical import CanonicalVendor, canonical_hash
from connector.coverbase.errors import CoverbaseNotFound
from connector.coverbase.models import VendorCreate
from connector.sync.context import RunContext
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.refs import Refs
from connector.sync.outcomes import (
    CREATE,
    CREATED,
    INVALID,
    LINK,
    LINKED,
    NOOP,
    OK,
    TRANSIENT,
    UPDATE,
    UPDATED,
    classify,
    is_fatal,
)
from connector.sync.payloads import contact_payload, diff, vendor_payload, vendor_update

PAGE = 200


def idempotency_key(prefix: str, key: str, generation: int) -> str:
    return f"{prefix}:{key}" if generation <= 1 else f"{prefix}:{key}:g{generation}"


class VendorsSync(EntitySync):
    entity = "vendor"
    name = "vendors"
    stream = "vendors"
    depends_on = ("users",)

    def desired(self, ctx: RunContext, v: CanonicalVendor, users: Refs) -> tuple[dict, dict, list[str]]:
        owners, notes = users.resolve_many(v.owner_keys)
        watchers: list[str] = []
        if ctx.cfg.vendors.contact_as_watcher and v.contact_key:
            watchers, more = users.resolve_many([v.contact_key])
            notes += more
        contact, problem = contact_payload(v)
        if problem:
            notes.append(problem)
        create, after = vendor_payload(v, owners, watchers, contact, ctx.cfg)
        return create, after, notes

    def plan(self, ctx: RunContext) -> list[Item]:
        snap = ctx.snapshot
        users = Refs(ctx, "user", {k: u.label for k, u in snap.users.items()})
        ledger = ctx.ledger(self.entity)
        items: list[Item] = []
        for key in sorted(snap.vendors):
            v = snap.vendors[key]
            prev = ledger.get(key)
            if v.problems:
                items.append(Item(key, v.label, INVALID, "; ".join(v.problems), prev=prev))
                continue
            if not v.name:
                items.append(Item(key, v.label, INVALID, "name is empty", prev=prev))
                continue
            create, after, notes = self.desired(ctx, v, users)
            desired = {**create, **after}
            h = canonical_hash(desired)
            item = Item(key, v.label, CREATE, prev=prev, payload=desired, payload_hash=h, notes=notes,
                        data={"create": create, "after": after})
            if prev and prev.coverbase_id and prev.status in (OK, TRANSIENT):
                item.coverbase_id = prev.coverbase_id
                settled = prev.status == OK and not v.force
                # Equal hashes settle it; the field diff runs only for records that may have changed.
                changes = {} if settled and prev.payload_hash == h else \
                    diff(prev.payload, desired, clear_strings=ctx.cfg.vendors.clear_with_empty_string)
                if settled and not changes:
                    item.action = NOOP
                else:
                    item.action = UPDATE
                    # A record whose last write failed is re-sent whole: we do not know what stuck.
                    item.data["changes"] = changes if prev.status == OK and not v.force else \
                        {k: x for k, x in desired.items() if k != "external_id"}
            items.append(item)
        self._lookup_external_ids(ctx, [i for i in items if i.action == CREATE])
        return items

    def _lookup_external_ids(self, ctx: RunContext, creates: list[Item]) -> None:
        """The ledger has no id for these: a vendor may exist already (lost state, a crash after
        the POST, an earlier manual import). Coverbase does not upsert on external_id."""
        if not creates:
            return
        total = ctx.cb.count_vendors()
        if total == 0:
            return
        found: dict[str, list[Any]] = {}
        if len(creates) > math.ceil(total / PAGE):
            for v in ctx.cb.iter_vendors(page_size=PAGE):
                if v.external_id:
                    found.setdefault(v.external_id, []).append(v)
        else:
            results = ctx.map(lambda it: ctx.cb.find_vendors_by_external_id(it.key), creates)
            for it, vs in zip(creates, results):
                if vs:
                    found[it.key] = vs
        for it in creates:
            matches = found.get(it.key)
            if not matches:
                continue
            oldest = min(matches, key=lambda m: (m.created_at or 0, m.id))
            it.action, it.coverbase_id = LINK, oldest.id
            it.data["changes"] = {k: x for k, x in (it.payload or {}).items() if k != "external_id"}
            if len(matches) > 1:
                it.notes.append(f"{len(matches)} Coverbase vendors carry external_id {it.key}: linked the oldest "
                                f"({oldest.id}); merge the others by hand")

    def apply(self, ctx: RunContext, item: Item) -> Result:
        if item.action == CREATE:
            return self._create(ctx, item, generation=item.prev.idem_generation if item.prev else 1)
        vid = item.coverbase_id
        assert vid is not None
        changes = item.data.get("changes") or {}
        try:
            if changes:
                ctx.cb.update_vendor(vid, vendor_update(changes))
        except CoverbaseNotFound:
            generation = (item.prev.idem_generation if item.prev else 1) + 1
            res = self._create(ctx, item, generation=generation)
            res.reason = (f"vendor {vid} no longer exists in Coverbase (deleted by hand?); re-created as "
                          f"{res.coverbase_id}" if res.coverbase_id else res.reason)
            return res
        outcome = LINKED if item.action == LINK else UPDATED
        return Result(outcome, "; ".join(item.notes), coverbase_id=vid, payload=item.payload,
                      payload_hash=item.payload_hash,
                      writes=[write_log("update", ok=True, coverbase_id=vid, payload_hash=item.payload_hash,
                                        http_status=200)] if changes else [])

    def _create(self, ctx: RunContext, item: Item, *, generation: int) -> Result:
        # No write-ahead row: a vendor whose answer was lost is found again by the external_id
        # look-up the next plan makes (and the same key replays within 24 h).
        key = idempotency_key(ctx.source.key_prefix(self.entity), item.key, generation)
        create, after = item.data["create"], item.data["after"]
        vendor = ctx.cb.create_vendor(VendorCreate(**create), idempotency_key=key)
        writes = [write_log("create", ok=True, coverbase_id=vendor.id, payload_hash=item.payload_hash, http_status=201)]
        extra = {"idempotency_key": key, "idem_generation": generation}
        if after:
            try:
                ctx.cb.update_vendor(vendor.id, vendor_update(after))
            except Exception as exc:  # the vendor exists: keep its id, PATCH again next run
                if is_fatal(exc):
                    raise
                outcome, reason = classify(exc)
                return Result(outcome, f"created, but setting status/tags failed: {reason}", coverbase_id=vendor.id,
                              payload=create, payload_hash=canonical_hash(create), writes=writes, extra=extra)
            writes.append(write_log("update", ok=True, coverbase_id=vendor.id, payload_hash=item.payload_hash,
                                    http_status=200))
        return Result(CREATED, "; ".join(item.notes), coverbase_id=vendor.id, payload=item.payload,
                      payload_hash=item.payload_hash, writes=writes, extra=extra)
