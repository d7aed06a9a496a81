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

from connector.coverbase.errors import CoverbaseAmbiguousWrite, CoverbaseNotFound
from connector.coverbase.models import FindingCreate, FindingUpdate
from connector.errors import ApiError
from connector.sync.canonical import CanonicalIssue, canonical_hash
from connector.sync.context import RunContext
from connector.sync.entities.base import EntitySync, Item, Result, write_log
from connector.sync.entities.finding_payloads import MUTABLE, finding_fields, marker, mutable_changes, \
    not_propagated, title_of
from connector.sync.entities.finding_readback import LOCK_WAIT_SECONDS, Target, Verdict, analyse, relink
from connector.sync.entities.finding_targets import Placer
from connector.sync.outcomes import (
    ARCHIVE,
    ARCHIVED,
    CREATE,
    CREATED,
    DEFERRED,
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
from connector.sync.state import LedgerRow, utcnow

DELETED_REASON = ("record no longer in ServiceNow (deleted, or now outside the configured filter or the "
                  "integration user's row ACLs)")
AWAITING = "awaiting confirmation"


def _attempt_of(prev: LedgerRow | None) -> dict | None:
    """The evidence a create left behind when its outcome is not known (write-ahead row)."""
    if prev is None or prev.coverbase_id or prev.status not in (PENDING, TRANSIENT):
        return None
    return (prev.payload or {}).get("_attempt")


def _held(row_payload: dict | None) -> dict[str, Any]:
    return {k: v for k, v in (row_payload or {}).items() if not k.startswith("_")}


def _awaiting_reason(key: str, target: str, candidates: list[str]) -> str:
    return (f"{AWAITING}: a create on {target} got no answer and {len(candidates)} new findings there could be it "
            f"({', '.join(candidates)}); nothing is created again until it is resolved (next run, or by hand: "
            f"findings.confirm: {{{key}: <one of them> | none}})")


class FindingsSync(EntitySync):
    entity = "finding"
    name = "findings"
    stream = "issues"

    def __init__(self) -> None:
        self.targets: dict[tuple[str, str], Target] = {}
        self.known: set[str] = set()  # every finding id the ledger knows, plus those adopted this run
        self._lock = threading.Lock()

    # --- planning ---------------------------------------------------------------------------

    def plan(self, ctx: RunContext) -> list[Item]:
        ledger = ctx.ledger(self.entity)
        self.known = {r.coverbase_id for r in ledger.values() if r.coverbase_id}
        self.placer = Placer(ctx)
        items = [self._plan_one(ctx, x, ledger.get(key)) for key, x in sorted(ctx.snapshot.issues.items())]
        self._read_targets(ctx, items)
        for it in items:
            if "attempt" in it.data:
                self._resolve(ctx, it)
            elif it.action == CREATE:
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
        attempt = _attempt_of(prev)
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
        held = _held(prev.payload) if held is None else held
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
            (("assessment_id", held["assessment_id"]) if held.get("assessment_id") else ("vendor_id", held.get("vendor_id")))
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

    # --- reading the targets, resolving earlier attempts ------------------------------------

    def _target(self, kind: str, tid: str) -> Target:
        with self._lock:
            return self.targets.setdefault((kind, tid), Target(kind, tid))

    def _read_targets(self, ctx: RunContext, items: list[Item]) -> None:
        """One listing per target that gets a create or has an unresolved one (read-only, so a
        dry run does it too). A failed read is kept as the target's error."""
        wanted = set()
        for it in items:
            if it.action == CREATE:
                wanted.add(it.data["target"])
            elif "attempt" in it.data:
                wanted.add((it.data["attempt"]["kind"], it.data["attempt"]["target"]))
        # A vendor this run created holds no finding of ours: its baseline is empty and the listing is
        # saved (anything found there later is a candidate, so this is only ever more cautious).
        fresh = _created_this_run(ctx)
        for kind, tid in wanted:
            if tid in fresh and not tid.startswith("dry-run:"):
                self._target(kind, tid).listing = []
        todo = [self._target(k, t) for k, t in sorted(wanted) if not t.startswith("dry-run:") and t not in fresh]

        def read(t: Target) -> None:
            try:
                t.listing = ctx.cb.list_findings(**{t.kind: t.id})
                t.known = {f.id for f in t.listing}
            except ApiError as exc:
                if is_fatal(exc):
                    raise
                t.error = str(exc)

        ctx.map(read, todo)

    def _relink(self, ctx: RunContext, it: Item) -> None:
        """A finding already there whose body names the record (only if Coverbase returns bodies)."""
        t = self.targets.get(it.data["target"])
        if t is None or not t.listing:
            return
        found = relink(t.listing, known=self.known, marker=it.data["marker"])
        if found is not None:
            self._adopt(ctx, it, found, "already in Coverbase: its body names the source record", t)

    def _resolve(self, ctx: RunContext, it: Item) -> None:
        att, x = it.data["attempt"], it.data["issue"]
        t = self._target(att["kind"], att["target"])
        confirm = ctx.cfg.findings.confirm.get(it.key)
        if t.listing is None:
            it.reason = f"{AWAITING}: the findings of {t.label} could not be read ({t.error or 'dry run'})"
            return
        ids = {f.id for f in t.listing}
        if confirm == "none":
            verdict = Verdict()
        elif confirm:
            if confirm not in ids:
                it.reason = f"{AWAITING}: findings.confirm names {confirm}, which is not a finding of {t.label}"
                return
            verdict = Verdict(adopt=confirm, how="confirmed by hand (findings.confirm)")
        else:
            verdict = analyse(t.listing, baseline=set(att.get("baseline") or []), known=self.known,
                              title=att.get("title") or "", marker=att.get("marker") or "", kind=t.kind, target=t.id)
        if verdict.adopt:
            self._adopt(ctx, it, verdict.adopt, f"created by an earlier attempt whose answer was lost ({verdict.how})",
                        t, sent=_held(it.prev.payload if it.prev else None))
        elif verdict.candidates:
            it.reason = _awaiting_reason(it.key, t.label, verdict.candidates)
            it.payload = {**(it.payload or {}), "_attempt": {**att, "candidates": verdict.candidates}}
        else:  # the earlier create left nothing: plan it afresh
            fresh = self._fresh(ctx, x, it.prev, it.data["gone"],
                                notes=[f"an earlier create (run {att.get('run', '?')[:12]}) left no finding on "
                                       f"{t.label}: created now"])
            if fresh.action == SKIPPED:
                fresh.reason = f"{it.data['gone']}: its earlier create left no finding in Coverbase"
            it.__dict__.update(fresh.__dict__)

    def _adopt(self, ctx: RunContext, it: Item, cid: str, how: str, t: Target, sent: dict | None = None) -> None:
        """Make ``it`` the existing finding ``cid``: link it (PATCHing what differs) or archive it."""
        x: CanonicalIssue = it.data["issue"]
        f = next(f for f in (t.listing or []) if f.id == cid)
        with self._lock:
            self.known.add(cid)
        held = dict(sent or it.payload or {})
        held.pop("_attempt", None)
        held.update({t.kind: t.id, "finding_status_id": f.finding_status_id, "due_date": f.due_date})
        if f.title is not None:
            held["title"] = f.title
        if f.body is not None:
            held["body"] = f.body
        held = {k: v for k, v in held.items() if v is not None}
        row = (it.prev or LedgerRow(self.entity, ctx.source_name, x.key, OK)).copy(
            status=OK, coverbase_id=cid, payload=held, payload_hash=canonical_hash(held))
        adopted = self._existing(ctx, x, row, it.data.get("gone") or self._gone(ctx, x), held=held, cid=cid)
        adopted.prev = it.prev
        if adopted.action == ARCHIVE:
            adopted.reason = f"{adopted.reason}: the finding {cid} ({how}) is archived"
        else:
            adopted.action = LINK
            adopted.notes = [how, *adopted.notes]
        adopted.data.setdefault("issue", x)
        it.__dict__.update(adopted.__dict__)

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

    def _create(self, ctx: RunContext, item: Item) -> Result:
        kind, tid = item.data["target"]
        t = self._target(kind, tid)
        notes = "; ".join(item.notes)
        if not t.lock.acquire(timeout=LOCK_WAIT_SECONDS):
            return Result(TRANSIENT, f"not sent this run: another create on {t.label} did not finish within "
                          f"{LOCK_WAIT_SECONDS:.0f} s", payload=item.payload, payload_hash=item.payload_hash)
        try:
            if t.listing is None:  # not read while planning: read it now, before anything is sent
                t.listing = ctx.cb.list_findings(**{kind: tid})
                t.known |= {f.id for f in t.listing}
                found = relink(t.listing, known=self._known(), marker=item.data["marker"])
                if found:
                    return self._linked_at_create(ctx, item, t, found)
            attempt = {"kind": kind, "target": tid, "baseline": sorted(t.known), "title": item.data["title"],
                       "marker": item.data["marker"], "run": ctx.run_id, "at": utcnow()}
            ctx.mark_pending(self.entity, item.key, item.label, item.prev,
                             payload={**(item.payload or {}), "_attempt": attempt}, parent_id=tid)
            try:
                return self._post(ctx, item, t, attempt, notes)
            except BaseException as exc:  # noqa: BLE001 - whatever it was, the POST may have happened
                if is_fatal(exc):
                    raise  # the pending row stays: the next run reads the target back
                return Result(TRANSIENT, f"{AWAITING}: unexpected {type(exc).__name__} around the create ({exc}); "
                              "the next run reads the target back", payload={**(item.payload or {}), "_attempt": attempt},
                              extra={"parent_id": tid}, signals={"awaiting": True})
        finally:
            t.lock.release()

    def _post(self, ctx: RunContext, item: Item, t: Target, attempt: dict, notes: str) -> Result:
        extra = {"parent_id": t.id}
        waiting = {**(item.payload or {}), "_attempt": attempt}
        writes: list[dict[str, Any]] = []
        for _ in range(2):
            try:
                f = ctx.cb.create_finding(FindingCreate(**item.payload))  # type: ignore[arg-type]
            except CoverbaseAmbiguousWrite as exc:
                writes.append(write_log("create", ok=False, error=exc))
                try:
                    listing = ctx.cb.list_findings(**{t.kind: t.id})
                except ApiError as err:
                    if is_fatal(err):
                        raise
                    return Result(TRANSIENT, f"{AWAITING}: the create got no answer ({exc.message}) and reading "
                                  f"{t.label} back failed ({err}); resolved next run", payload=waiting,
                                  writes=writes, extra=extra, signals={"awaiting": True})
                v = analyse(listing, baseline=t.known, known=self._known(), title=item.data["title"],
                            marker=item.data["marker"], kind=t.kind, target=t.id)
                t.known |= set(v.foreign)
                if v.adopt:
                    t.known.add(v.adopt)
                    self._remember(v.adopt)
                    reason = f"confirmed by read-back after an ambiguous response ({v.how})"
                    return Result(CREATED, "; ".join(p for p in (reason, notes) if p), coverbase_id=v.adopt,
                                  payload=item.payload, payload_hash=item.payload_hash, writes=writes, extra=extra)
                if v.candidates:
                    t.known |= set(v.candidates)
                    return Result(TRANSIENT, _awaiting_reason(item.key, t.label, v.candidates),
                                  payload={**waiting, "_attempt": {**attempt, "candidates": v.candidates}},
                                  writes=writes, extra=extra, signals={"awaiting": True})
                if _may_still_commit(exc):
                    return Result(TRANSIENT, f"{AWAITING}: the create timed out ({exc.message}) and nothing new is on "
                                  f"{t.label} yet; a backend may still be committing it, so the next run reads it "
                                  "back before sending again", payload=waiting, writes=writes, extra=extra,
                                  signals={"awaiting": True})
                continue  # the read-back shows nothing new: the create did not happen; send it again
            except ApiError as exc:
                if is_fatal(exc):
                    raise
                outcome, reason = classify(exc)
                writes.append(write_log("create", ok=False, error=exc))
                # Refused or never processed; a transient outcome keeps the evidence anyway.
                return Result(outcome, reason, error=exc, payload=waiting if outcome == TRANSIENT else item.payload,
                              payload_hash=item.payload_hash, writes=writes, extra=extra)
            t.known.add(f.id)
            self._remember(f.id)
            writes.append(write_log("create", ok=True, coverbase_id=f.id, payload_hash=item.payload_hash,
                                    http_status=201))
            return Result(CREATED, notes, coverbase_id=f.id, payload=item.payload, payload_hash=item.payload_hash,
                          writes=writes, extra=extra)
        return Result(TRANSIENT, f"{AWAITING}: the create got no answer twice and no new finding is on {t.label}; "
                      "the next run reads it back before sending again", payload=waiting, writes=writes, extra=extra,
                      signals={"awaiting": True})

    def _linked_at_create(self, ctx: RunContext, item: Item, t: Target, found: str) -> Result:
        """Found by its body when the target is first read at apply time: link, PATCH what differs."""
        f = next(f for f in t.listing or [] if f.id == found)
        self._remember(found)
        actual = {"finding_status_id": f.finding_status_id, "due_date": f.due_date}
        changes, _ = mutable_changes(actual, item.payload or {})
        item.coverbase_id = found
        held = {**(item.payload or {}), **{k: v for k, v in actual.items() if v is not None}}
        held.update({k: v for k, v in (("title", f.title), ("body", f.body)) if v is not None})
        item.payload = held
        item.data["changes"] = changes
        item.reason = "already in Coverbase: its body names the source record"
        item.action = LINK
        return self._update(ctx, item)

    def _known(self) -> set[str]:
        with self._lock:
            return set(self.known)

    def _remember(self, cid: str) -> None:
        with self._lock:
            self.known.add(cid)

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


def _created_this_run(ctx: RunContext) -> set[str]:
    """Vendors whose create this run's changelog records. A vendor is created only after an
    ``external_id`` look-up found none, so it is new; the ledger's run_id would not do (any row
    rewritten this run carries it). Not assessments: their create may be an idempotency replay of
    one that exists, and Coverbase adds findings to assessments by itself."""
    if ctx.dry_run:
        return set()
    return {r[0] for r in ctx.state.db.execute(
        "SELECT coverbase_id FROM changelog WHERE run_id = ? AND entity = 'vendor' AND operation = 'create' "
        "AND status = 'ok' AND coverbase_id IS NOT NULL", [ctx.run_id])}


def _may_still_commit(exc: CoverbaseAmbiguousWrite) -> bool:
    """A gateway timeout (504) or our own read timeout: the backend may still be working on the
    request, so an empty read-back right after it proves nothing. A reset, a dropped answer or
    another 5xx means the request is over."""
    return exc.status == 504 or "Timeout" in (exc.message or "")


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
