"""Findings: ServiceNow TPRM / GRC issues become Coverbase findings, exactly once.

Placement: the assessment when the issue references an assessment this connector created, else
the issue's vendor (or its engagement's, or its assessment's). An issue whose vendor or assessment
is not synced yet waits (``deferred``); one with no vendor, engagement or assessment is
``invalid``. Afterwards ``finding_status_id`` and ``due_date`` are PATCHed when they change;
title, body and target cannot change in Coverbase, so such changes are recorded as "not
propagated" (ledger message and the ``not_propagated`` metadata), never as a second finding. A
deleted issue, or one in an archive state, has its finding archived (behind the circuit breaker);
one that comes back is restored.

``POST /v1/findings`` ignores Idempotency-Key: see ``finding_readback.py`` for how a lost answer or
a killed process is resolved without ever creating a finding twice.
"""

from __future__ import annotations

import threading
from typing import Any

from connector.canonical import CanonicalIssue, canonical_hash
from connector.coverbase.errors import CoverbaseNotFound
from connector.coverbase.models import FindingUpdate
from connector.errors import ApiError
from connector.state import LedgerRow
from connector.sync.context import RunContext
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.finding_payloads import (
    MUTABLE,
    finding_fields,
    marker,
    mutable_changes,
    not_propagated,
    title_of,
)
from connector.sync.entities.finding_readback import Target
from connector.sync.entities.finding_resolve import ResolveAttempts, attempt_of, held_of
from connector.sync.entities.finding_targets import Placer
from connector.sync.entities.finding_writes import CreateOnce
from connector.sync.outcomes import (
    ARCHIVE,
    ARCHIVED,
    CREATE,
    INVALID,
    LINK,
    LINKED,
    NOOP,
    OK,
    PENDING,
    REJECTED,
    SKIPPED,
    TRANSIENT,
    UPDATE,
    UPDATED,
    classify,
    is_fatal,
)

DELETED_REASON = ("record no longer in ServiceNow (deleted, or now outside the configured filter or the "
                  "integration user's row ACLs)")


class FindingsSync(ResolveAttempts, CreateOnce, EntitySync):
    entity = "finding"
    name = "findings"
    stream = "issues"
    depends_on = ("assessments", "vendors")

    def __init__(self) -> None:
        self.targets: dict[tuple[str, str], Target] = {}
        self.known: set[str] = set()  # every finding id the ledger knows, plus those adopted this run
        self._lock = threading.Lock()
        # Set when a create ends in an error that stops the run. A create already waiting for its
        # target's lock must not go out after that: the run is ending, the first create's outcome is
        # unknown, and a second create on the same target would blur the next run's read-back.
        self.stopping = threading.Event()
        self.stopping_reason = ""

    # --- planning ---------------------------------------------------------------------------

    def plan(self, ctx: RunContext) -> list[Item]:
        ledger = ctx.ledger(self.entity)
        self.known = {r.coverbase_id for r in ledger.values() if r.coverbase_id}
        self.stopping.clear()
        self.placer = Placer(ctx)
        items = [self._plan_one(ctx, x, ledger.get(key)) for key, x in sorted(ctx.snapshot.issues.items())]
        self._read_targets(ctx, items)
        # Newest attempt first: a later create on the target has the larger baseline, so what it finds
        # is its own; once adopted (known), an older attempt cannot take it for its own.
        for it in sorted((i for i in items if "attempt" in i.data), key=_recency, reverse=True):
            self._resolve(ctx, it)
        for it in items:
            if it.action == CREATE and "attempt" not in it.data:
                self._relink(ctx, it)
        rep = ctx.report.entity(self.name)
        for it in items:
            if it.data.get("frozen"):
                rep.flag("not_propagated", it.key, it.label, "; ".join(it.data["frozen"]))
            if it.action == TRANSIENT:
                rep.flag("awaiting_confirmation", it.key, it.label, it.reason)
        creates = [i for i in items if i.action == CREATE]
        return [i for i in items if i.action != CREATE] + _round_robin(creates)

    def _gone(self, ctx: RunContext, x: CanonicalIssue) -> str | None:
        if x.deleted:
            return DELETED_REASON
        if ctx.cfg.findings.archives(x.state):
            return (f"state {x.state} ({ctx.cfg.findings.state_name(x.state)}) is an archive state "
                    "(findings.archive_states)")
        return None

    def _plan_one(self, ctx: RunContext, x: CanonicalIssue, prev: LedgerRow | None) -> Item:
        gone = self._gone(ctx, x)
        if prev and prev.coverbase_id and prev.status in (OK, TRANSIENT, ARCHIVED, REJECTED):
            return self._existing(ctx, x, prev, gone)
        attempt = attempt_of(prev)
        if attempt is not None:  # resolved once the targets are read
            it = Item(x.key, x.label, TRANSIENT, prev=prev, payload=prev.payload,  # type: ignore[union-attr]
                      payload_hash=prev.payload_hash, data={"attempt": attempt, "issue": x, "gone": gone})  # type: ignore[union-attr]
            return it
        return self._fresh(ctx, x, prev, gone)

    def _fresh(self, ctx: RunContext, x: CanonicalIssue, prev: LedgerRow | None, gone: str | None,
               notes: list[str] | None = None) -> Item:
        """An issue without a finding in Coverbase."""
        if gone:
            return Item(x.key, x.label, SKIPPED, f"{gone}: no finding was ever created", prev=prev)
        title = title_of(x)
        if not title:
            return Item(x.key, x.label, INVALID, "no title: short_description and number are both empty", prev=prev)
        p = self.placer.place(x)
        if p.blocked:
            return Item(x.key, x.label, p.blocked[0], p.blocked[1], prev=prev)
        fields, more = finding_fields(x, ctx.cfg.findings)
        payload = {**fields, p.kind: p.id}
        h = canonical_hash(payload)
        it = Item(x.key, x.label, CREATE, prev=prev, payload=payload, payload_hash=h,
                  notes=[*(notes or []), *p.notes, *more],
                  data={"target": (p.kind, p.id), "marker": marker(x), "title": title, "issue": x})
        if prev and prev.status == REJECTED and prev.payload_hash == h and not ctx.retry_rejected:
            it.action, it.reason = REJECTED, prev.error_message or "rejected by Coverbase"
        return it

    def _existing(self, ctx: RunContext, x: CanonicalIssue, prev: LedgerRow, gone: str | None,
                  held: dict[str, Any] | None = None, cid: str | None = None) -> Item:
        """An issue whose finding Coverbase holds (``held``: what it holds, by default the ledger's)."""
        held = held_of(prev.payload) if held is None else held
        cid = cid or prev.coverbase_id
        if gone:
            if prev.status == ARCHIVED:
                return Item(x.key, x.label, NOOP, prev=prev, coverbase_id=cid, payload=prev.payload,
                            payload_hash=prev.payload_hash)
            return Item(x.key, x.label, ARCHIVE, gone, prev=prev, coverbase_id=cid, payload=held,
                        payload_hash=canonical_hash(held))
        fields, notes = finding_fields(x, ctx.cfg.findings)
        if not fields.get("title"):
            fields["title"] = held.get("title")
        p = self.placer.place(x, existing=True)
        kind, tid = (p.kind, p.id) if not p.blocked else \
            (("assessment_id", held["assessment_id"]) if held.get("assessment_id")
             else ("vendor_id", held.get("vendor_id")))
        desired = {**fields, kind: tid}
        h = canonical_hash(desired)
        # Archived, or an archive whose outcome is unknown: the finding may be archived in Coverbase.
        restore = prev.status == ARCHIVED or (prev.status == TRANSIENT and prev.last_operation == ARCHIVE)
        item = Item(x.key, x.label, NOOP, prev=prev, coverbase_id=cid, payload=held,
                    payload_hash=canonical_hash(held) if held else prev.payload_hash)
        notes += p.notes
        if not restore and prev.status == OK and not x.force and prev.payload_hash == h:
            item.payload, item.payload_hash, item.notes = prev.payload, prev.payload_hash, notes
            return item
        changes, more = mutable_changes(held, desired)
        if prev.status == TRANSIENT or x.force or restore:  # the last write failed, a backfill, a restore: all
            changes = {f: desired[f] for f in MUTABLE if desired.get(f) is not None}
        frozen = not_propagated(held, desired)
        item.notes = [*notes, *more, *frozen]
        item.data.update(changes=changes, desired_hash=h, frozen=frozen, restore=restore)
        if prev.status == REJECTED and prev.payload_hash == h and not ctx.retry_rejected:
            item.action, item.reason = REJECTED, prev.error_message or "rejected by Coverbase"
            item.payload, item.payload_hash = prev.payload, prev.payload_hash
        elif restore:
            item.action, item.reason = UPDATE, "back at the source: finding restored"
        elif changes:
            item.action = UPDATE
        return item

    # --- writing ----------------------------------------------------------------------------

    def apply(self, ctx: RunContext, item: Item) -> Result:
        if item.action == ARCHIVE:
            return self._archive(ctx, item)
        if item.action in (UPDATE, LINK):
            return self._update(ctx, item)
        return self._create(ctx, item)

    def _archive(self, ctx: RunContext, item: Item) -> Result:
        cid = item.coverbase_id
        try:
            ctx.cb.archive_finding(cid)  # type: ignore[arg-type]
            note = ""
        except CoverbaseNotFound:
            note = " (Coverbase answered 404 finding_not_found: already gone)"
        return Result(ARCHIVED, f"{item.reason}: finding archived in Coverbase{note}", coverbase_id=cid,
                      payload=item.payload, payload_hash=item.payload_hash,
                      writes=[write_log("archive", ok=True, coverbase_id=cid, http_status=200)])

    def _update(self, ctx: RunContext, item: Item) -> Result:
        cid, changes = item.coverbase_id, dict(item.data.get("changes") or {})
        held = {**(item.payload or {}), **changes}
        body = FindingUpdate(**changes, is_archived=False if item.data.get("restore") else None)
        writes = []
        if body.body():
            try:
                ctx.cb.update_finding(cid, body)  # type: ignore[arg-type]
            except ApiError as exc:
                if is_fatal(exc):
                    raise
                outcome, reason = classify(exc)
                if isinstance(exc, CoverbaseNotFound):
                    reason = f"finding {cid} answered 404 (deleted in Coverbase?): {reason}; not re-created"
                return Result(outcome, reason, error=exc, coverbase_id=cid, payload=item.payload,
                              payload_hash=item.data.get("desired_hash") if outcome == REJECTED else item.payload_hash,
                              writes=[write_log("update", ok=False, error=exc)])
            writes.append(write_log("update", ok=True, coverbase_id=cid, payload_hash=canonical_hash(held),
                                    http_status=200))
        outcome = LINKED if item.action == LINK else UPDATED
        return Result(outcome, item.reason or "; ".join(item.notes), coverbase_id=cid, payload=held,
                      payload_hash=canonical_hash(held), writes=writes,
                      extra={"parent_id": held.get("assessment_id") or held.get("vendor_id")})

    def after_apply(self, ctx: RunContext, item: Item, result: Result) -> None:
        if result.signals.get("awaiting"):
            ctx.report.entity(self.name).flag("awaiting_confirmation", item.key, item.label, result.reason)

    # --- backfill flags of the extra issue tables -------------------------------------------

    def run(self, ctx: RunContext):
        rep = super().run(ctx)
        if not ctx.dry_run:
            from connector.sources.servicenow_issues import issue_specs

            settled = {k for k, r in ctx.state.ledger(self.entity, ctx.source_name).items()
                       if r.status not in (TRANSIENT, PENDING)}
            for stream, _ in issue_specs(ctx.cfg)[1:]:
                if ctx.state.has_forced(stream, ctx.source_name):
                    with ctx.state.transaction():
                        ctx.state.clear_force(stream, ctx.source_name, settled)
        return rep


def _recency(it: Item) -> tuple[str, int, int]:
    """When an unresolved create was sent: its time (to the second, then in ns), then the size of its
    baseline (baselines only grow on a target)."""
    att = it.data["attempt"]
    return att.get("at") or "", att.get("at_ns") or 0, len(att.get("baseline") or [])


def _round_robin(creates: list[Item]) -> list[Item]:
    """Creates of one target wait for each other (``Target.lock``): interleave targets so the
    workers start on different ones."""
    by_target: dict[Any, list[Item]] = {}
    for it in creates:
        by_target.setdefault(it.data["target"], []).append(it)
    queues = list(by_target.values())
    out: list[Item] = []
    while queues:
        out += [q.pop(0) for q in queues]
        queues = [q for q in queues if q]
    return out


__all__ = ["FindingsSync"]
