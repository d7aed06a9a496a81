"""One assessment record's write-back, exactly once (the protocol ``connector/writeback/engine.py`` runs).

1. **A write in doubt first.** A ledger row ``pending`` holds the marker of a note that was sent
   but whose answer was lost (a crash, a 5xx, a dropped connection). Once ServiceNow can no longer
   be committing it (``settle_seconds``), the journal is searched for the marker: found, the
   write is confirmed (fields read back); absent, it never landed and is planned afresh.
2. **Observe.** ``GET /v1/assessments/{id}``; the outcome ``(status, score, findings)`` equal to
   the one last written back means nothing to do: no ServiceNow call at all.
3. **Plan fields.** The mapped columns are read; a column whose value is not the one the ledger
   says we wrote is a human edit: left alone and reported as a conflict.
4. **Write ahead, then write once.** The intent (marker, outcome, fields) is committed to the
   ledger, then one PATCH carries the note and the fields (one transaction in ServiceNow). Only
   answers proving nothing was stored (429, no connection) are re-sent in the run; anything
   ambiguous stays ``pending`` for step 1 of a later run.
5. **Read back.** The journal must hold the marker (a 200 can drop ``work_notes`` silently) and the
   record must hold every field sent (a 200 can drop a field silently); what differs is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.config import WriteBackConfig
from connector.coverbase.client import CoverbaseClient
from connector.coverbase.errors import CoverbaseNotFound
from connector.errors import ApiError
from connector.servicenow.errors import ServiceNowPermissionDenied
from connector.servicenow.writer import WRITE_ROLE, ServiceNowWriter, WriteAnswer
from connector.state import LedgerRow, utcnow
from connector.sync.outcomes import is_fatal
from connector.writeback.outcome import Observed, desired_columns, fit_to_column, marker_for, note_text, same_value
from connector.writeback.records import OutcomeState, Target, backoff_at, outcome_row

Put = Callable[..., LedgerRow]  # (row, changelog entries, *, sync) -> row


@dataclass
class Result:
    outcome: str
    reason: str = ""
    notes: int = 0
    fields: int = 0
    recovered: int = 0
    conflicts: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    plans: list[tuple[str, str]] = field(default_factory=list)
    mod_count: Any = None  # sys_mod_count read before the write


def _age_seconds(iso: str | None) -> float:
    if not iso:
        return float("inf")
    then = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - then).total_seconds()


def _log(answer: WriteAnswer | None, *, ok: bool, cid: str, outcome_hash: str | None, error: str | None = None,
         operation: str = "work_note") -> dict[str, Any]:
    """A changelog entry for a ServiceNow write (the same append-only audit trail as Coverbase writes)."""
    return {"operation": operation, "coverbase_id": cid, "payload_hash": outcome_hash,
            "status": "ok" if ok else "failed",
            "http_status": answer.status if answer else None, "error": (error or "")[:500] or None,
            "request_id": answer.request_id if answer else None}


class RecordProtocol:
    """Per run: how each record is written. Thread-safe across records (one worker per record)."""

    def __init__(self, *, coverbase: CoverbaseClient, writer: ServiceNowWriter, config: WriteBackConfig, table: str,
                 run_id: str, dry_run: bool, put: Put, sleep: Callable[[float], None],
                 column_types: dict[str, str] | None = None) -> None:
        self.cb = coverbase
        self.writer = writer
        self.wb = config
        self.table = table
        self._run_id = run_id
        self._dry_run = dry_run
        self._put = put
        self._sleep = sleep
        self.types = column_types or {}  # from the start-up dictionary check

    def handle(self, t: Target, prev: LedgerRow | None, retry_rejected: bool) -> Result:
        st = OutcomeState.of(prev)
        res = Result("unchanged")
        if st.pending:
            early, prev = self._resolve(t, prev, st, res)
            if early is not None:
                return early
        try:
            obs = Observed.of(self.cb.get_assessment(t.coverbase_id))
        except CoverbaseNotFound as exc:
            return self._fail(t, prev, st, "rejected", f"the assessment is not in Coverbase any more ({exc.message})")
        except ApiError as exc:
            if is_fatal(exc):
                raise
            return self._fail(t, prev, st, "transient", f"Coverbase read failed: {exc}")
        h = obs.hash
        if h == st.written_hash:
            if prev is not None and prev.status != "ok":
                self._put(outcome_row(t, prev, st, status="ok", run_id=self._run_id))
            res.outcome = "written" if res.recovered else "unchanged"
            return res
        if prev is not None and prev.status == "rejected" and st.attempted_hash == h and not retry_rejected:
            return Result("rejected", prev.error_message or "refused by ServiceNow before")
        return self._write(t, prev, st, obs, res)

    def _resolve(self, t: Target, prev: LedgerRow | None, st: OutcomeState,
                 res: Result) -> tuple[Result | None, LedgerRow | None]:
        """Settle a write whose answer was lost: the journal says whether it landed."""
        p = st.pending or {}
        if _age_seconds(p.get("at")) < self.wb.settle_seconds:
            return Result("deferred", f"a write sent at {p.get('at')} may still be in progress in ServiceNow; its "
                                      f"journal is checked for [{p.get('marker')}] once write_back.settle_seconds "
                                      f"({self.wb.settle_seconds:g} s) have passed"), prev
        entries = self.writer.journal(t.key, p["marker"])
        if not entries:
            st.pending = None  # it never landed: the write below uses the same sequence number
            res.plans.append(("resend", f"write in doubt [{p['marker']}] did not land; sending again"))
            return None, prev
        fields = dict(p.get("fields") or {})
        record = self.writer.read(self.table, t.key, list(fields) + list(p.get("matched") or {})) if fields else None
        dropped = self._baseline(st, fields, p.get("matched") or {}, record)
        st.seq, st.written_hash = int(p["seq"]), p["hash"]
        st.observed, st.pending, st.attempted_hash = Observed.from_dict(p["observed"]), None, None
        res.recovered, res.dropped = 1, dropped
        if len(entries) > 1:
            res.dropped.append(f"{len(entries)} journal entries carry [{p['marker']}] (expected one)")
        if self._dry_run:
            res.plans.append(("confirm", f"write in doubt [{p['marker']}] is in the journal"))
            return None, prev
        reason = "a write in doubt was found in the journal and confirmed"
        reason += f"; {'; '.join(dropped)}" if dropped else ""
        row = outcome_row(t, prev, st, status="ok", run_id=self._run_id, reason=reason, marker=p["marker"])
        prev = self._put(row, [_log(None, ok=True, cid=t.coverbase_id, outcome_hash=st.written_hash,
                                    error="confirmed by reading the journal back", operation="work_note_confirmed")])
        return None, prev

    def _baseline(self, st: OutcomeState, sent: dict[str, str], matched: dict[str, str],
                  record: dict[str, Any] | None) -> list[str]:
        """After a write: the values ServiceNow holds become the baseline; a field sent but not
        stored is reported (a 200 can drop a field the user may not write)."""
        dropped = []
        for column, value in matched.items():
            st.fields[column] = value
        for column, want in sent.items():
            have = None if record is None else str(record.get(column, "") if record.get(column) is not None else "")
            if have is None:
                st.fields[column] = want  # could not read it back: assume what was sent
                continue
            st.fields[column] = have
            if not same_value(have, want):
                dropped.append(f"{column}: sent {want!r}, ServiceNow holds {have!r} after a 200 (silently dropped or "
                               "changed: the write user may not write this field, a business rule reset it, or the "
                               "column cannot hold the value)")
        return dropped

    def _fail(self, t: Target, prev: LedgerRow | None, st: OutcomeState, outcome: str, reason: str,
              answer: WriteAnswer | None = None, outcome_hash: str | None = None) -> Result:
        status = "rejected" if outcome == "rejected" else "transient"
        if outcome == "rejected" and outcome_hash:
            st.attempted_hash = outcome_hash
        row = outcome_row(t, prev, st, status=status, run_id=self._run_id, reason=reason,
                          error_class=f"HTTP {answer.status}" if answer and answer.status else outcome,
                          next_attempt_at=backoff_at((prev.attempts if prev else 0) + 1))
        writes = [_log(answer, ok=False, cid=t.coverbase_id, outcome_hash=outcome_hash, error=reason)] if answer else []
        if not self._dry_run:
            self._put(row, writes)
        return Result(outcome, reason)

    def _write(self, t: Target, prev: LedgerRow | None, st: OutcomeState, obs: Observed, res: Result) -> Result:
        h = obs.hash
        desired = {c: fit_to_column(v, self.types.get(c)) for c, v in desired_columns(obs, self.wb).items()}
        to_write, matched = {}, {}
        current: dict[str, Any] | None = None
        if desired:
            try:
                current = self.writer.read(self.table, t.key, list(desired))
            except ServiceNowPermissionDenied as exc:
                return self._fail(t, prev, st, "rejected", self._denied(exc.message), outcome_hash=h)
            if current is None:
                return self._fail(t, prev, st, "rejected", self._not_found("404 on read"), outcome_hash=h)
            for column, want in desired.items():
                have, last = str(current.get(column) or ""), st.fields.get(column)
                if last is not None and not same_value(have, last):
                    res.conflicts.append(f"{column}: changed in ServiceNow to {have!r} since the connector wrote "
                                         f"{last!r}; left alone (Coverbase now says {want!r})")
                elif same_value(have, want):
                    matched[column] = have
                else:
                    to_write[column] = want
        marker = marker_for(t.key, t.coverbase_id, st.seq + 1, h)
        note = note_text(obs, st.observed, marker)
        if self._dry_run:
            res.plans.append(("note", note.splitlines()[0]))
            res.plans.extend(("field", f"{c} = {v!r}") for c, v in to_write.items())
            res.outcome = "written"
            return res
        st.pending = {"marker": marker, "seq": st.seq + 1, "hash": h, "observed": obs.to_dict(), "fields": to_write,
                      "matched": matched, "at": utcnow()}
        prev = self._put(outcome_row(t, prev, st, status="pending", run_id=self._run_id, marker=marker,
                                     reason="write sent, answer not yet recorded"), sync=True)
        answer = self._send(t, {"work_notes": note, **to_write}, list(desired))
        if not answer.landed:
            return self._refused(t, prev, st, answer, h, marker)
        res.mod_count = (current or {}).get("sys_mod_count")
        return self._verify(t, prev, st, obs, res, answer, marker, to_write, matched, list(desired))

    def _send(self, t: Target, body: dict[str, Any], fields: list[str]) -> WriteAnswer:
        """One PATCH, re-sent only on answers that prove it was not stored (429, no connection)."""
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            answer = self.writer.patch(self.table, t.key, body, fields=fields)
            if not answer.safe_to_resend or attempt >= self.wb.max_attempts:
                return answer
            delay = answer.retry_after if answer.retry_after is not None else min(5.0, 0.25 * 2 ** attempt)
            if waited + delay > self.wb.max_wait_seconds:
                return answer
            self._sleep(delay)
            waited += delay

    def _refused(self, t: Target, prev: LedgerRow, st: OutcomeState, answer: WriteAnswer, h: str,
                 marker: str) -> Result:
        if answer.kind == "in_doubt":
            reason = (f"write in doubt ({answer.message}): it may have landed; the journal is checked for "
                      f"[{marker}] before anything is sent again (next run, after write_back.settle_seconds)")
            row = outcome_row(t, prev, st, status="pending", run_id=self._run_id, reason=reason, marker=marker,
                              error_class=f"HTTP {answer.status}" if answer.status else "no answer",
                              next_attempt_at=backoff_at(1, base=max(self.wb.settle_seconds, 1.0)))
            self._put(row, [_log(answer, ok=False, cid=t.coverbase_id, outcome_hash=h, error=reason)])
            return Result("transient", reason)
        st.pending = None  # the answer proves nothing was stored
        if answer.safe_to_resend:
            return self._fail(t, prev, st, "transient", f"ServiceNow did not take the write ({answer.message}) after "
                              f"{self.wb.max_attempts} attempts; nothing was written", answer)
        if answer.kind == "denied":
            return self._fail(t, prev, st, "rejected", self._denied(answer.message), answer, h)
        if answer.kind == "not_found":
            return self._fail(t, prev, st, "rejected", self._not_found(answer.message), answer, h)
        return self._fail(t, prev, st, "rejected", f"ServiceNow refused the write ({answer.message})", answer, h)

    def _verify(self, t: Target, prev: LedgerRow, st: OutcomeState, obs: Observed, res: Result, answer: WriteAnswer,
                marker: str, to_write: dict[str, str], matched: dict[str, str], fields: list[str]) -> Result:
        h = obs.hash
        entries = self.writer.journal(t.key, marker)
        record = self.writer.read(self.table, t.key, fields) if fields else None
        st.pending = None
        dropped = self._baseline(st, to_write, matched, record)
        if not entries:
            st.attempted_hash = h
            reason = (f"ServiceNow answered {answer.status} but stored no work note (work_notes silently dropped): "
                      f"the write user needs write access to {self.table}.work_notes (role {WRITE_ROLE})")
            row = outcome_row(t, prev, st, status="rejected", run_id=self._run_id, reason=reason, marker=marker,
                              error_class="dropped note", next_attempt_at=backoff_at((prev.attempts or 0) + 1))
            self._put(row, [_log(answer, ok=False, cid=t.coverbase_id, outcome_hash=h, error=reason)])
            res.dropped = [*dropped, "work_notes: the note was not stored"]
            return Result("rejected", reason, dropped=res.dropped, conflicts=res.conflicts)
        st.seq, st.written_hash, st.observed, st.attempted_hash = st.seq + 1, h, obs, None
        raced = self._raced(res.mod_count, record)
        if raced:
            res.conflicts.append(raced)
        notes = [*res.conflicts, *dropped]
        if len(entries) > 1:
            notes.append(f"{len(entries)} journal entries carry [{marker}] (expected one)")
        reason = "; ".join(notes)
        self._put(outcome_row(t, prev, st, status="ok", run_id=self._run_id, reason=reason, marker=marker,
                              request_id=answer.request_id),
                  [_log(answer, ok=True, cid=t.coverbase_id, outcome_hash=h, error=reason or None)])
        res.outcome, res.notes = "written", 1
        res.fields = len(to_write) - len(dropped)
        res.dropped = dropped + ([notes[-1]] if len(entries) > 1 else [])
        return res

    @staticmethod
    def _raced(before: Any, record: dict[str, Any] | None) -> str | None:
        """No conditional update exists: an update landing between our read and our write is only
        visible afterwards, as ``sys_mod_count`` moving by more than our one write."""
        try:
            old, new = int(before), int((record or {}).get("sys_mod_count"))
        except (TypeError, ValueError):
            return None
        if new - old <= 1:
            return None
        return (f"sys_mod_count went from {old} to {new} around this write: another update landed between the "
                "read and the write (a person, or a business rule); a mapped column changed in that moment may "
                "have been overwritten: check the record's history")

    def _denied(self, message: str) -> str:
        mapped = sorted({*self.wb.fields.values(), *self.wb.state_map})
        return (f"ServiceNow refused the write ({message}): grant the write user the role {WRITE_ROLE} (write "
                f"access to {self.table}.work_notes{', ' + ', '.join(mapped) if mapped else ''}). Sent again when the "
                "Coverbase outcome changes, or with retry_rejected.")

    def _not_found(self, message: str) -> str:
        return (f"record not found in {self.table} ({message}): deleted, or the write user may not read it. Sent "
                "again when the Coverbase outcome changes, or with retry_rejected.")
