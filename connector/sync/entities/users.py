"""Users: the people referenced by vendors, services and assessments, resolved by create-or-get.

``POST /v1/users`` with no preliminary GET: 201 created, 200 already in this org (linked),
409 ``user_exists`` (another org owns the email: rejected, and the referencing records sync
without that person). Emails are trimmed and compared case-insensitively, so two source
records that differ only in case or whitespace make one call and share one Coverbase user.
"""

from __future__ import annotations

from connector.canonical import CanonicalAssessment, Snapshot, canonical_hash, email_problem
from connector.config import ConnectorConfig
from connector.coverbase.errors import CoverbaseConflict, CoverbaseValidationError
from connector.coverbase.models import UserCreate
from connector.sync.context import RunContext
from connector.sync.entities.base import EntitySync, Follower, Item, Result, write_log
from connector.sync.entities.repairs import note_repairs
from connector.sync.outcomes import (
    CREATE,
    CREATED,
    INVALID,
    LINKED,
    NOOP,
    OK,
    REJECTED,
    SKIPPED,
)


def eligible(a: CanonicalAssessment, cfg: ConnectorConfig) -> bool:
    return not a.deleted and (a.state or "").lower() not in {s.lower() for s in cfg.assessments.ineligible_states}


def referenced_user_keys(snap: Snapshot, cfg: ConnectorConfig) -> set[str]:
    """Users referenced by vendors (managers, contact), engagements (business owner) and
    assessments that will be created (assignee) — and no one else."""
    refs: set[str] = set()
    for v in snap.vendors.values():
        refs.update(v.owner_keys)
        if v.contact_key:
            refs.add(v.contact_key)
    for s in snap.services.values():
        refs.update(s.owner_keys)
    for a in snap.assessments.values():
        if a.assignee_key and eligible(a, cfg):
            refs.add(a.assignee_key)
    return refs


class UsersSync(EntitySync):
    entity = "user"
    name = "users"
    stream = "users"
    depends_on = ()

    def plan(self, ctx: RunContext) -> list[Item]:
        snap, cfg = ctx.snapshot, ctx.cfg
        ledger = ctx.ledger(self.entity)
        items: list[Item] = []
        by_email: dict[str, list[str]] = {}
        for key in sorted(referenced_user_keys(snap, cfg)):
            u = snap.users.get(key)
            if u is None:
                continue  # the referencing record says "no such sys_user"
            prev = ledger.get(key)
            if u.problems:
                items.append(Item(key, u.label, INVALID, "; ".join(u.problems), prev=prev))
                continue
            if not u.active and not cfg.users.include_inactive:
                items.append(Item(key, u.label, SKIPPED, "user is inactive in the source: not invited to Coverbase",
                                  prev=prev))
            elif not u.email:
                items.append(Item(key, u.label, INVALID, "user has no email address", prev=prev))
            elif prev is not None and prev.status == OK and prev.payload_hash == canonical_hash({"email": u.email}):
                by_email.setdefault(u.email, []).append(key)  # validated when it was synced
            elif email_problem(u.email):
                items.append(Item(key, u.label, INVALID, f"email {(u.email_raw or '').strip()!r} is not a valid email "
                                  f"address: {email_problem(u.email)}", prev=prev))
            else:
                by_email.setdefault(u.email, []).append(key)
        for email, keys in sorted(by_email.items()):
            # The record already holding the canonical form leads; messy variants follow it.
            keys.sort(key=lambda k: ((snap.users[k].email_raw or "") != email, k))
            lead = snap.users[keys[0]]
            h = canonical_hash({"email": email})
            rows = [ledger.get(k) for k in keys]
            followers = [Follower(k, snap.users[k].label, ledger.get(k)) for k in keys[1:]]
            known = next((r for r in rows if r and r.status == OK and r.payload_hash == h and r.coverbase_id), None)
            payload = UserCreate(email=email, first_name=lead.first_name, last_name=lead.last_name,
                                 role=cfg.users.role).body()  # type: ignore[arg-type]
            if known and not lead.force:
                items.append(Item(keys[0], lead.label, NOOP, prev=rows[0], coverbase_id=known.coverbase_id,
                                  payload=payload, payload_hash=h, followers=followers))
                continue
            prev = rows[0]
            if prev and prev.status == REJECTED and prev.payload_hash == h and not ctx.retry_rejected:
                items.append(Item(keys[0], lead.label, REJECTED, prev.error_message or "rejected by Coverbase",
                                  prev=prev, payload_hash=h, followers=followers))
                continue
            items.append(Item(keys[0], lead.label, CREATE, prev=prev, payload=payload, payload_hash=h,
                              data={"email": email}, followers=followers))
        for it in items:
            note_repairs(ctx, self.name, it, snap.users.get(it.key))
        return items

    def predict(self, ctx: RunContext, item: Item) -> str:
        found = ctx.cb.find_user_by_email(item.data["email"])
        return LINKED if found else CREATED

    def apply(self, ctx: RunContext, item: Item) -> Result:
        key = f"{ctx.source.key_prefix('user')}:{item.key}:{item.payload_hash[:12]}"  # type: ignore[index]
        try:
            res = ctx.cb.create_or_get_user(UserCreate(**item.payload), idempotency_key=key)  # type: ignore[arg-type]
        except CoverbaseConflict as exc:
            reason = (f"email {item.data['email']} belongs to a user of another Coverbase org (409 {exc.code}); "
                      "records that reference this person sync without them")
            return Result(REJECTED, reason, error=exc, payload_hash=item.payload_hash,
                          writes=[write_log("create", ok=False, error=exc)])
        except CoverbaseValidationError as exc:
            return Result(INVALID, f"Coverbase refused the email: {exc.message}", error=exc,
                          payload_hash=item.payload_hash, writes=[write_log("create", ok=False, error=exc)])
        outcome = CREATED if res.created else LINKED
        note = "" if res.created else "already a user of this Coverbase org"
        if res.user.is_archived:
            note = "archived in Coverbase (not reactivated)"
        return Result(outcome, note, coverbase_id=res.user.id, payload=item.payload, payload_hash=item.payload_hash,
                      extra={"idempotency_key": key},
                      writes=[write_log("create", ok=True, coverbase_id=res.user.id, payload_hash=item.payload_hash,
                                        http_status=201 if res.created else 200)])
