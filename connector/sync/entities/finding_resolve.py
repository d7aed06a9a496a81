"""Reading the targets and settling creates whose outcome is not known (see ``finding_readback``).

A mixin of ``FindingsSync``: one listing per target before anything is created on it, the
resolution of ``pending`` / awaiting rows left by earlier runs (adopt, create afresh, or keep
waiting), and linking a finding whose body names its record.
"""

from __future__ import annotations

from typing import Any

from connector.canonical import CanonicalIssue, canonical_hash
from connector.errors import ApiError
from connector.state import LedgerRow
from connector.sync.context import RunContext
from connector.sync.entities.base import Item
from connector.sync.entities.finding_readback import Target, Verdict, analyse, relink, sent_at_of
from connector.sync.entities.finding_writes import AWAITING, awaiting_reason
from connector.sync.outcomes import ARCHIVE, CREATE, LINK, OK, PENDING, SKIPPED, TRANSIENT, is_fatal


def attempt_of(prev: LedgerRow | None) -> dict | None:
    """The evidence a create left behind when its outcome is not known (write-ahead row)."""
    if prev is None or prev.coverbase_id or prev.status not in (PENDING, TRANSIENT):
        return None
    return (prev.payload or {}).get("_attempt")


def held_of(row_payload: dict | None) -> dict[str, Any]:
    return {k: v for k, v in (row_payload or {}).items() if not k.startswith("_")}


class ResolveAttempts:
    """What ``FindingsSync`` reads before it writes (uses its ``targets``, ``known``, ``placer``, ``_lock``,
    ``_fresh``, ``_existing`` and ``_gone``)."""

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
                              title=att.get("title") or "", marker=att.get("marker") or "", kind=t.kind, target=t.id,
                              sent_at=sent_at_of(att))
        if verdict.adopt:
            self._adopt(ctx, it, verdict.adopt, f"created by an earlier attempt whose answer was lost ({verdict.how})",
                        t, sent=held_of(it.prev.payload if it.prev else None))
        elif verdict.candidates:
            it.reason = awaiting_reason(it.key, t.label, verdict.candidates)
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

def _created_this_run(ctx: RunContext) -> set[str]:
    """Vendors whose create this run's changelog records. A vendor is created only after an
    ``external_id`` look-up found none, so it is new; the ledger's run_id would not do (any row
    rewritten this run carries it). Not assessments: their create may be an idempotency replay of
    one that exists, and Coverbase adds findings to assessments by itself."""
    if ctx.dry_run:
        return set()
    return set(ctx.state.created_in_run(ctx.run_id, "vendor", ctx.source_name).values())
