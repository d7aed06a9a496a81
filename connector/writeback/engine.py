"""Write Coverbase assessment outcomes back into ServiceNow: one work note per change, exactly once.

A run: the start-up checks (Coverbase reachable, the mapping valid on the instance), the writer
lock (one writer per ledger, the same lock as the sync), then every assessment record this
connector created and has not settled, concurrently up to ``write_back.concurrency``. How one
record is written, and why it is exactly once, is ``connector/writeback/protocol.py``. Rows go
through the group-committing ledger writer; write-ahead rows are committed before their write.
A 401 or a configuration error stops the run; anything about one record is that record's outcome.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from connector.config import ConnectorConfig
from connector.coverbase.client import CoverbaseClient
from connector.deadline import Deadline
from connector.errors import ApiError, FatalSyncError
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowAuthError, ServiceNowPermissionDenied
from connector.servicenow.writer import ServiceNowWriter
from connector.sources.servicenow_mapping import SOURCE
from connector.state import LedgerRow, StateDB
from connector.sync.ledger_writer import LedgerWriter
from connector.sync.outcomes import is_fatal
from connector.sync.writer_lock import writer_lock
from connector.workers import run_all
from connector.writeback import preflight
from connector.writeback.protocol import RecordProtocol, Result
from connector.writeback.records import OutcomeState, Target, outcome_rows, targets
from connector.writeback.report import WriteBackReport


class WriteBack:
    def __init__(self, *, state: StateDB, coverbase: CoverbaseClient, servicenow: ServiceNowClient,
                 config: ConnectorConfig, log: logging.Logger | None = None, sleep=time.sleep,
                 lock_wait_seconds: float = 0.0,
                 credentials_hint: str = "SERVICENOW_USERNAME / SERVICENOW_PASSWORD",
                 deadline: Deadline | None = None) -> None:
        self.state = state
        self.cb = coverbase
        self.sn = servicenow
        self.writer = ServiceNowWriter(servicenow)
        self.cfg = config
        self.wb = config.write_back
        self.table = preflight.write_back_table(config)
        self.log = log or logging.getLogger("connector.writeback")
        self._sleep = sleep
        self.lock_wait_seconds = lock_wait_seconds
        self.credentials_hint = credentials_hint  # which settings a 401 on the write client points at
        self._ledger: LedgerWriter | None = None
        self._run_id = ""
        self._dry_run = False
        self._protocol: RecordProtocol | None = None
        self._types: dict[str, str] = {}
        self.deadline = deadline or Deadline.never()
        coverbase.set_deadline(self.deadline)
        servicenow.set_deadline(self.deadline)

    # --- the run ----------------------------------------------------------------------------

    def check(self) -> None:
        """Fail fast: Coverbase reachable with the key, the mapping valid on the instance."""
        try:
            self.cb.auth_test()
        except ApiError as exc:
            raise FatalSyncError(f"Coverbase connectivity check failed: {exc}. Check COVERBASE_API_URL and "
                                 "COVERBASE_API_KEY.") from None
        try:
            self._types = preflight.validate(self.sn, self.cfg)
        except ServiceNowAuthError as exc:
            raise ServiceNowAuthError(f"ServiceNow rejected the write-back credentials (HTTP {exc.status}): check "
                                      f"{self.credentials_hint}", status=exc.status, method=exc.method,
                                      path=exc.path) from None

    def run(self, *, run_id: str | None = None, keys: list[str] | None = None, dry_run: bool = False,
            retry_rejected: bool = False) -> WriteBackReport:
        run_id = run_id or uuid.uuid4().hex
        report = WriteBackReport(run_id, dry_run)
        if not self.wb.enabled:
            report.outcome("skipped", "-", "-", "write_back.enabled is false in the mapping file")
            return report
        self._run_id, self._dry_run = run_id, dry_run
        sn0, cb0 = self.sn.calls.total, self.cb.calls.total
        self.state.start_run(run_id, "write_back_dry_run" if dry_run else "write_back", SOURCE)
        try:
            lock = None if dry_run else writer_lock(self.state.path, run_id=run_id, wait_seconds=self.lock_wait_seconds)
            if lock is not None:
                lock.__enter__()
            try:
                self.check()
                self._run(report, keys, retry_rejected)
            finally:
                if lock is not None:
                    lock.__exit__(None, None, None)
        except BaseException as exc:
            report.fatal = str(exc) if is_fatal(exc) else f"unexpected {type(exc).__name__}: {exc}"
            report.finish(self.sn.calls.total - sn0, self.cb.calls.total - cb0)
            self.state.finish_run(run_id, "failed", report.to_dict(), report.fatal)
            raise
        report.finish(self.sn.calls.total - sn0, self.cb.calls.total - cb0)
        self.state.finish_run(run_id, "succeeded", report.to_dict())
        return report

    def _run(self, report: WriteBackReport, keys: list[str] | None, retry_rejected: bool) -> None:
        self._protocol = RecordProtocol(coverbase=self.cb, writer=self.writer, config=self.wb, table=self.table,
                                        run_id=self._run_id, dry_run=self._dry_run, put=self._put, sleep=self._sleep,
                                        column_types=self._types)
        ours = targets(self.state)
        rows = outcome_rows(self.state)
        work: list[tuple[Target, LedgerRow | None]] = []
        for key in sorted(set(keys) if keys is not None else set(ours)):
            t = ours.get(key)
            if t is None:
                report.outcome("skipped", key, key, "not an assessment this connector created in Coverbase")
                continue
            row = rows.get(key)
            if keys is None and OutcomeState.of(row).settled(row) and not self.wb.recheck_terminal:
                report.outcome("unchanged", key, t.label)  # its final outcome is written: not read again
                continue
            work.append((t, row))
        if not work:
            return
        self._ledger = None if self._dry_run else LedgerWriter(self.state.path, deadline=self.deadline)
        try:
            # A fatal error stops handing out records once the ones in flight are accounted for;
            # records never started are handled next run (connector/workers.py).
            run_all(lambda tr: self._guarded(tr[0], tr[1], retry_rejected), work, workers=self.wb.concurrency,
                    deadline=self.deadline, name="write-back",
                    on_result=lambda tr, res: self._account(report, tr[0], res),
                    doing="writing assessment outcomes back to ServiceNow")
        finally:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None

    def _account(self, report: WriteBackReport, t: Target, res: Result) -> None:
        report.outcome(res.outcome, t.key, t.label, res.reason)
        report.notes_written += res.notes
        report.fields_written += res.fields
        report.recovered += res.recovered
        for text in res.conflicts:
            report.conflict(t.key, t.label, text)
        for text in res.dropped:
            report.drop(t.key, t.label, text)
        for action, detail in res.plans:
            report.plan(action, t.key, t.label, detail)

    def _guarded(self, t: Target, row: LedgerRow | None, retry_rejected: bool) -> Result:
        try:
            return self._protocol.handle(t, row, retry_rejected)  # type: ignore[union-attr]
        except BaseException as exc:  # noqa: BLE001 - every error is an outcome or a fatal stop
            if isinstance(exc, ServiceNowAuthError):
                raise ServiceNowAuthError(f"ServiceNow rejected the write-back credentials (HTTP {exc.status}): check "
                                          f"{self.credentials_hint}", status=exc.status, method=exc.method,
                                          path=exc.path) from None
            if is_fatal(exc) and not isinstance(exc, ServiceNowPermissionDenied):
                raise
            # The last row put stays: a pending intent is resolved by the next run, never lost.
            return Result("transient", f"{type(exc).__name__}: {exc}" if not isinstance(exc, ApiError) else str(exc))

    def _put(self, row: LedgerRow, writes: list[dict[str, Any]] = (), *, sync: bool = False) -> LedgerRow:
        if self._ledger is not None:
            self._ledger.put(row, list(writes), self._run_id, sync=sync)
        return row
