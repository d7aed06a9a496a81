"""Change detection for ``coverbase_outcomes_sensor``: which assessment records need a write-back run.

One evaluation, bounded in requests and time:

1. **Nudges first.** Open ``Assessment.StatusChanged`` webhook events name assessments to re-read
   now (an event is never trusted for content: Coverbase delivers at least once, unordered).
2. **Then a round-robin poll** of the non-terminal assessments this connector created, oldest
   poll first, at most ``write_back.poll_batch`` per evaluation, at ``poll_rate_per_second``
   (the client's rate limit), stopping after ``poll_budget_seconds``.
3. An assessment whose outcome differs from the one last written back is *changed*; records never
   written back, and writes in doubt or failed whose retry time has come, are due without a poll.

The state DB is only read here, apart from the poll bookkeeping (``outcome_polls``) and closing the
webhook events acted on; the ledger belongs to write-back runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from connector.config import ConnectorConfig
from connector.coverbase.client import CoverbaseClient
from connector.coverbase.errors import CoverbaseNotFound
from connector.errors import ApiError
from connector.state import StateDB, utcnow
from connector.webhooks.events import close_events, open_nudges
from connector.writeback.outcome import Observed
from connector.writeback.records import OutcomeState, due, outcome_rows, targets


@dataclass
class WatchResult:
    keys: list[str] = field(default_factory=list)  # ServiceNow sys_ids a write-back run should handle
    changed: int = 0
    unwritten: int = 0
    retries: int = 0
    polled: int = 0
    nudges: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.keys)} to write back ({self.changed} changed, {self.unwritten} never written back, "
                f"{self.retries} to retry); polled {self.polled} assessments, {self.nudges} webhook nudges"
                + (f"; {len(self.errors)} poll errors, first: {self.errors[0]}" if self.errors else ""))


def watch(state: StateDB, cb: CoverbaseClient, cfg: ConnectorConfig, *,
          clock: Callable[[], float] = time.monotonic) -> WatchResult:
    wb = cfg.write_back
    out = WatchResult()
    ours = targets(state)
    rows = outcome_rows(state)
    by_cid = {t.coverbase_id: k for k, t in ours.items()}
    wanted: dict[str, None] = {}
    now = utcnow()

    # Due without a poll: never written back, or a write in doubt / failure whose time has come.
    for key in ours:
        row = rows.get(key)
        if row is None:
            wanted[key] = None
            out.unwritten += 1
        elif row.status in ("pending", "transient") and due(row, now):
            wanted[key] = None
            out.retries += 1

    nudges = open_nudges(state)
    foreign = [eid for eid, cid in nudges if cid not in by_cid]
    if foreign:
        close_events(state, foreign, "not an assessment this connector created")
    nudged = list(dict.fromkeys(by_cid[cid] for _, cid in nudges if cid in by_cid))
    out.nudges = len(nudged)
    polls = {r[0]: r[1] for r in state.db.execute("SELECT source_key, polled_at FROM outcome_polls")}
    rotation = sorted((k for k in ours if k not in wanted and not OutcomeState.of(rows.get(k)).settled(rows.get(k))),
                      key=lambda k: (polls.get(k) or "", k))
    order = nudged + [k for k in rotation if k not in nudged][: wb.poll_batch]

    t0 = clock()
    polled_ok: set[str] = set()
    for key in order:
        if clock() - t0 > wb.poll_budget_seconds:
            break  # the next evaluation carries on where this one stopped (oldest poll first)
        if key in wanted:
            polled_ok.add(key)
            continue
        t = ours[key]
        try:
            obs = Observed.of(cb.get_assessment(t.coverbase_id))
        except CoverbaseNotFound as exc:
            _record_poll(state, t.coverbase_id, key, None, None, str(exc))
            polled_ok.add(key)
            continue
        except ApiError as exc:
            if exc.fatal:
                raise
            out.errors.append(f"{t.coverbase_id}: {exc}")
            _record_poll(state, t.coverbase_id, key, None, None, str(exc))
            continue
        out.polled += 1
        polled_ok.add(key)
        _record_poll(state, t.coverbase_id, key, obs.hash, obs.status, None)
        st, row = OutcomeState.of(rows.get(key)), rows.get(key)
        refused_before = row is not None and row.status == "rejected" and st.attempted_hash == obs.hash
        if obs.hash != st.written_hash and not refused_before:
            wanted[key] = None
            out.changed += 1
    acted = [eid for eid, cid in nudges if cid in by_cid and by_cid[cid] in polled_ok]
    if acted:
        close_events(state, acted, "assessment re-read by coverbase_outcomes_sensor")
    out.keys = list(wanted)
    return out


def _record_poll(state: StateDB, cid: str, key: str, outcome_hash: str | None, status: str | None,
                 error: str | None) -> None:
    with state.transaction():
        state.db.execute(
            "INSERT INTO outcome_polls (assessment_id, source_key, polled_at, observed_hash, observed_status, error) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (assessment_id) DO UPDATE SET source_key = excluded.source_key, "
            "polled_at = excluded.polled_at, observed_hash = COALESCE(excluded.observed_hash, observed_hash), "
            "observed_status = COALESCE(excluded.observed_status, observed_status), error = excluded.error",
            [cid, key, utcnow(), outcome_hash, status, error])
