"""Creating a finding exactly once: the per-target lock, the write-ahead row with its baseline,
the POST that is never retried blindly, and the read-back after an ambiguous answer.

A mixin of ``FindingsSync`` (see ``finding_readback`` for the evidence and the decision).
"""

from __future__ import annotations

import time
from typing import Any

from connector.coverbase.errors import CoverbaseAmbiguousWrite
from connector.coverbase.models import FindingCreate
from connector.errors import ApiError
from connector.state import utcnow
from connector.sync.context import RunContext
from connector.sync.entities.base import Item, Result, write_log
from connector.sync.entities.finding_payloads import mutable_changes
from connector.sync.entities.finding_readback import LOCK_WAIT_SECONDS, Target, analyse, relink, sent_at_of
from connector.sync.outcomes import CREATED, LINK, TRANSIENT, classify, is_fatal

AWAITING = "awaiting confirmation"


def awaiting_reason(key: str, target: str, candidates: list[str]) -> str:
    return (f"{AWAITING}: a create on {target} got no answer and {len(candidates)} new findings there could be it "
            f"({', '.join(candidates)}); nothing is created again until it is resolved (next run, or by hand: "
            f"findings.confirm: {{{key}: <one of them> | none}})")


def _may_still_commit(exc: CoverbaseAmbiguousWrite) -> bool:
    """A gateway timeout (504) or our own read timeout: the backend may still be working on the
    request, so an empty read-back right after it proves nothing. A reset, a dropped answer or
    another 5xx means the request is over."""
    return exc.status == 504 or "Timeout" in (exc.message or "")


class CreateOnce:
    """How ``FindingsSync`` sends a create (uses its ``targets``, ``known``, ``stopping``, ``_lock`` and
    ``_update``)."""

    def _create(self, ctx: RunContext, item: Item) -> Result:
        kind, tid = item.data["target"]
        t = self._target(kind, tid)
        notes = "; ".join(item.notes)
        if not t.lock.acquire(timeout=LOCK_WAIT_SECONDS):
            return Result(TRANSIENT, f"not sent this run: another create on {t.label} did not finish within "
                          f"{LOCK_WAIT_SECONDS:.0f} s", payload=item.payload, payload_hash=item.payload_hash)
        try:
            if self.stopping.is_set():
                return Result(TRANSIENT, f"not sent this run: the run is stopping ({self.stopping_reason}); "
                              "the next run reads the target back first", payload=item.payload,
                              payload_hash=item.payload_hash)
            if t.unsettled:
                return Result(TRANSIENT, f"not sent this run: an earlier create on {t.label} is unresolved "
                              f"({t.unsettled}); its finding could be taken for this one's, so the next run "
                              "reads the target back first", payload=item.payload, payload_hash=item.payload_hash)
            if t.listing is None:  # not read while planning: read it now, before anything is sent
                t.listing = ctx.cb.list_findings(**{kind: tid})
                t.known |= {f.id for f in t.listing}
                found = relink(t.listing, known=self._known(), marker=item.data["marker"])
                if found:
                    return self._linked_at_create(ctx, item, t, found)
            attempt = {"kind": kind, "target": tid, "baseline": sorted(t.known), "title": item.data["title"],
                       "marker": item.data["marker"], "run": ctx.run_id, "at": utcnow(), "at_ns": time.time_ns()}
            ctx.mark_pending(self.entity, item.key, item.label, item.prev,
                             payload={**(item.payload or {}), "_attempt": attempt}, parent_id=tid)
            try:
                return self._post(ctx, item, t, attempt, notes)
            except BaseException as exc:  # noqa: BLE001 - whatever it was, the POST may have happened
                if is_fatal(exc):
                    self.stopping_reason = f"{type(exc).__name__} during a create on {t.label}"
                    self.stopping.set()
                    raise  # the pending row stays: the next run reads the target back
                t.unsettled = f"{item.label}: unexpected {type(exc).__name__}"
                return Result(TRANSIENT, f"{AWAITING}: unexpected {type(exc).__name__} around the create ({exc}); "
                              "the next run reads the target back",
                              payload={**(item.payload or {}), "_attempt": attempt},
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
                    t.unsettled = f"{item.label}: no answer, and the read-back failed"
                    return Result(TRANSIENT, f"{AWAITING}: the create got no answer ({exc.message}) and reading "
                                  f"{t.label} back failed ({err}); resolved next run", payload=waiting,
                                  writes=writes, extra=extra, signals={"awaiting": True})
                v = analyse(listing, baseline=t.known, known=self._known(), title=item.data["title"],
                            marker=item.data["marker"], kind=t.kind, target=t.id, sent_at=sent_at_of(attempt))
                t.known |= set(v.foreign)
                if v.adopt:
                    t.known.add(v.adopt)
                    self._remember(v.adopt)
                    reason = f"confirmed by read-back after an ambiguous response ({v.how})"
                    return Result(CREATED, "; ".join(p for p in (reason, notes) if p), coverbase_id=v.adopt,
                                  payload=item.payload, payload_hash=item.payload_hash, writes=writes, extra=extra)
                if v.candidates:
                    t.known |= set(v.candidates)
                    return Result(TRANSIENT, awaiting_reason(item.key, t.label, v.candidates),
                                  payload={**waiting, "_attempt": {**attempt, "candidates": v.candidates}},
                                  writes=writes, extra=extra, signals={"awaiting": True})
                if _may_still_commit(exc):
                    t.unsettled = f"{item.label}: timed out, may still be committed"
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
