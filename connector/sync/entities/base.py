"""The loop every entity shares: plan → circuit breaker → record local outcomes → apply writes.

An entity class only says *what* to do with each record (``plan``) and *how* to write one
(``apply``). This loop guarantees the rest: the same plan drives the dry run and the real
run, writes run concurrently up to the configured limit, every outcome lands in the ledger,
and a fatal error stops the run once the writes already in flight are recorded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connector.errors import ApiError, FatalSyncError
from connector.progress import NullProgress, Progress
from connector.state import LedgerRow
from connector.sync.context import RunContext, ledger_row_for
from connector.sync.interpreter import gc_paused
from connector.sync.outcomes import (
    ARCHIVE,
    CREATED,
    LINK,
    LINKED,
    OK,
    PREDICTED_OUTCOME,
    STATUS_OF_OUTCOME,
    UNCHANGED,
    UPDATE,
    WRITE_ACTIONS,
    classify,
    is_fatal,
)
from connector.sync.report import EntityReport
from connector.workers import run_all


@dataclass
class Follower:
    """A record that shares its leader's write (two sys_users with one email)."""

    key: str
    label: str
    prev: LedgerRow | None


@dataclass
class Item:
    key: str
    label: str
    action: str
    reason: str = ""
    payload: dict[str, Any] | None = None
    payload_hash: str | None = None
    prev: LedgerRow | None = None
    coverbase_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # data["ledger"]: more ledger columns (repairs...)
    notes: list[str] = field(default_factory=list)
    followers: list[Follower] = field(default_factory=list)

    @property
    def message(self) -> str:
        return self.reason or "; ".join(self.notes)


@dataclass
class Result:
    outcome: str
    reason: str = ""
    coverbase_id: str | None = None
    payload: dict[str, Any] | None = None
    payload_hash: str | None = None
    error: ApiError | None = None
    writes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # more ledger columns (idempotency_key, parent_id...)
    signals: dict[str, Any] = field(default_factory=dict)  # for after_apply; never stored


def write_log(operation: str, *, ok: bool, coverbase_id: str | None = None, payload_hash: str | None = None,
              error: ApiError | None = None, http_status: int | None = None) -> dict[str, Any]:
    """A changelog entry: what was sent, for which record, and what Coverbase answered."""
    return {"operation": operation, "coverbase_id": coverbase_id, "payload_hash": payload_hash,
            "status": "ok" if ok else "failed", "http_status": http_status if ok else (error.status if error else None),
            "error": str(error)[:500] if error else None, "request_id": error.request_id if error else None}


_ERRORS = frozenset({"invalid", "rejected", "transient"})  # outcomes counted as errors in progress lines


def _follower_outcome(outcome: str) -> str:
    return LINKED if outcome == CREATED else outcome


def _same_user_reason(leader: Item) -> str:
    return f"same Coverbase user as {leader.key} ({leader.label}): emails differ only in case or whitespace"


class EntitySync(ABC):
    """One Coverbase entity: ``plan`` says what to do with each record, ``apply`` writes one.

    A subclass declares ``entity`` (its ledger entity), ``name`` (the report and asset name),
    ``stream`` (the staging stream its records come from) and ``depends_on`` (the entities whose
    Coverbase ids it needs). The engine's order, the push assets' dependencies and the checks'
    entity map are all derived from these declarations (``connector/sync/order.py``)."""

    entity: ClassVar[str]
    name: ClassVar[str]
    stream: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    progress: Progress = NullProgress()  # the step's progress lines (connector/progress.py), set by the engine

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        missing = [a for a in ("entity", "name", "stream") if not getattr(cls, a, "")]
        if missing and not getattr(cls, "__abstractmethods__", None):
            raise TypeError(f"{cls.__name__} must declare {', '.join(missing)}")

    @abstractmethod
    def plan(self, ctx: RunContext) -> list[Item]:
        """Every record's planned action, decided from the snapshot and the ledger."""

    @abstractmethod
    def apply(self, ctx: RunContext, item: Item) -> Result:
        """Write one record to Coverbase; a record's problem is its ``Result``, never raised."""

    def predict(self, ctx: RunContext, item: Item) -> str:
        """Dry run: the outcome the write would have (may read, never writes)."""
        return PREDICTED_OUTCOME[item.action]

    def after_apply(self, ctx: RunContext, item: Item, result: Result) -> None:
        """Main-thread hook once a write is recorded."""

    # --- the loop ---------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> EntityReport:
        rep = ctx.report.entity(self.name, samples_per_action=ctx.cfg.sync.samples,
                                max_problems=ctx.cfg.sync.report_problems)
        calls_before = ctx.cb.calls.total
        try:
            self.progress.phase(f"planning {self.name}")
            with gc_paused():  # planning builds ~10^4 items and reads the ledger: no cycles to collect
                items = self.plan(ctx)
                for it in items:
                    rep.plan(it.action, it.key, it.label, it.message)
                    for f in it.followers:
                        rep.plan(LINK if it.action in WRITE_ACTIONS else it.action, f.key, f.label,
                                 _same_user_reason(it))
                self.check_breaker(ctx, items)
                writes = [i for i in items if i.action in WRITE_ACTIONS]
                self._record_local(ctx, rep, [i for i in items if i.action not in WRITE_ACTIONS])
            if ctx.dry_run:
                self._simulate(ctx, rep, writes)
            else:
                if writes:
                    self._apply_all(ctx, rep, writes)
                if ctx.state.has_forced(self.stream, ctx.source_name):
                    self._spend_backfill_flags(ctx, items)
        finally:
            rep.finish(ctx.cb.calls.total - calls_before)
        return rep

    def _spend_backfill_flags(self, ctx: RunContext, items: list[Item]) -> None:
        """A backfilled record is sent again once; a settled outcome spends its flag."""
        done = [k for it in items for k in [it.key, *(f.key for f in it.followers)]]
        ctx.forget(self.entity)
        settled = {k for k, r in ctx.ledger(self.entity).items() if r.status not in ("transient", "pending")}
        with ctx.state.transaction():
            ctx.state.clear_force(self.stream, ctx.source_name, [k for k in done if k in settled])

    def check_breaker(self, ctx: RunContext, items: list[Item]) -> None:
        t = ctx.cfg.thresholds
        existing = sum(1 for r in ctx.ledger(self.entity).values() if r.coverbase_id and r.status != "archived")
        if ctx.allow_mass_changes or existing < max(1, t.breaker_min_records):
            return
        checks = (("archive", ARCHIVE, t.breaker_archive_share, "archive"),
                  ("rewrite", UPDATE, t.breaker_update_share, "update"))
        for verb, action, share, knob in checks:
            n = sum(1 for i in items if i.action == action)
            if n / existing > share:
                raise FatalSyncError(
                    f"circuit breaker: this run would {verb} {n} of {existing} {self.name} already in Coverbase "
                    f"({n / existing:.0%} > {share:.0%}). Nothing was written for {self.name}. If this is intended "
                    f"(e.g. after a mapping change), run again with allow_mass_changes=true, or raise "
                    f"thresholds.breaker_{knob}_share.")

    def _record_local(self, ctx: RunContext, rep: EntityReport, items: list[Item]) -> None:
        """Outcomes decided without a Coverbase call. A ledger row is written only when it
        changes, so a no-op run costs no disk writes."""
        rows: list[LedgerRow] = []
        for it in items:
            outcome = PREDICTED_OUTCOME[it.action]
            targets = [(it.key, it.label, it.prev, it.message)]
            targets += [(f.key, f.label, f.prev, _same_user_reason(it) if outcome == UNCHANGED else it.message)
                        for f in it.followers]
            for key, label, prev, message in targets:
                rep.outcome(outcome, key, label, message)
                if outcome == UNCHANGED and prev is not None and prev.status == "archived":
                    continue  # stays archived
                status = STATUS_OF_OUTCOME[outcome]
                unchanged = (prev is not None and prev.status == status
                             and (prev.error_message or "") == (message or "")
                             and (it.payload_hash is None or prev.payload_hash == it.payload_hash)
                             and (it.coverbase_id is None or prev.coverbase_id == it.coverbase_id))
                if unchanged:
                    continue
                rows.append(ledger_row_for(ctx, self.entity, key, label, prev, outcome=outcome, reason=message,
                                           coverbase_id=it.coverbase_id, payload=it.payload,
                                           payload_hash=it.payload_hash, **it.data.get("ledger", {})))
        if rows and not ctx.dry_run:
            with ctx.state.transaction():
                ctx.state.upsert_ledger(rows)
            ctx.forget(self.entity)

    def _simulate(self, ctx: RunContext, rep: EntityReport, writes: list[Item]) -> None:
        self.progress.begin(f"dry run: checking {self.name}", len(writes), verb="checked")

        def predict(it: Item) -> str:
            outcome = self.predict(ctx, it)
            self.progress.advance(1, errors=int(outcome in _ERRORS))
            return outcome

        outcomes = ctx.map(predict, writes)
        stand_ins: dict[str, str] = {}
        for it, outcome in zip(writes, outcomes):
            rep.outcome(outcome, it.key, it.label, it.message)
            for f in it.followers:
                rep.outcome(_follower_outcome(outcome), f.key, f.label, _same_user_reason(it))
            if STATUS_OF_OUTCOME[outcome] == OK:
                stand_ins[it.key] = it.coverbase_id or f"dry-run:{self.entity}:{it.key}"
                stand_ins.update({f.key: stand_ins[it.key] for f in it.followers})
        ctx.state.add_dry_run_ids(ctx.run_id, self.entity, stand_ins)

    def _apply_all(self, ctx: RunContext, rep: EntityReport, writes: list[Item]) -> None:
        def one(it: Item) -> tuple[Item, Result]:
            try:
                res = self.apply(ctx, it)
            except Exception as exc:  # every record's problem becomes its outcome; fatal ones stop the run
                if is_fatal(exc):
                    raise
                outcome, reason = classify(exc)
                res = Result(outcome, reason, error=exc if isinstance(exc, ApiError) else None)
            self._store(ctx, it, res)
            return it, res

        def recorded(_: Item, done: tuple[Item, Result]) -> None:
            it, res = done
            rep.outcome(res.outcome, it.key, it.label, res.reason)
            for f in it.followers:
                rep.outcome(_follower_outcome(res.outcome), f.key, f.label, _same_user_reason(it))
            self.after_apply(ctx, it, res)
            self.progress.advance(1, errors=int(res.outcome in _ERRORS))

        # A fatal error stops handing out records; the writes already in flight are recorded first.
        # Records never started are planned again next run.
        self.progress.begin(f"writing {self.name}", len(writes), verb="written")
        with ctx.ledger_writer():
            run_all(one, writes, workers=ctx.cfg.sync.coverbase_workers, deadline=ctx.deadline,
                    name=f"{self.name}-writer",
                    on_result=recorded, doing=f"writing {self.name} to Coverbase")

    def _store(self, ctx: RunContext, it: Item, res: Result) -> None:
        row = ledger_row_for(ctx, self.entity, it.key, it.label, it.prev, outcome=res.outcome,
                             reason=res.reason or "; ".join(it.notes), coverbase_id=res.coverbase_id,
                             payload=res.payload, payload_hash=res.payload_hash, error=res.error,
                             last_operation=it.action, **{**it.data.get("ledger", {}), **res.extra})
        ctx.write_ledger(row, res.writes)
        for f in it.followers:
            ok = STATUS_OF_OUTCOME[res.outcome] == OK
            ctx.write_ledger(ledger_row_for(
                ctx, self.entity, f.key, f.label, f.prev, outcome=_follower_outcome(res.outcome),
                reason=_same_user_reason(it) if ok else res.reason, coverbase_id=res.coverbase_id,
                payload=res.payload, payload_hash=res.payload_hash, error=res.error, last_operation=LINK))
