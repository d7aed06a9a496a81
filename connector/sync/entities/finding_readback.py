"""Exactly once without idempotency keys: telling our own finding from everyone else's.

``POST /v1/findings`` ignores ``Idempotency-Key`` and documents neither ``title`` nor ``body`` in
its answers, so after a lost answer the connector cannot look its finding up by text. What it can
do is compare lists of ids:

- before a create, the **baseline**: every finding id on the target (one listing per target per
  run, plus what this run created there since; empty, without a listing, for a vendor this run
  created). It goes into the write-ahead ``pending`` row, so a process killed between the
  POST and the ledger commit leaves the evidence behind;
- after an ambiguous answer (or at the next run, for a ``pending`` row), the target is listed
  again: a finding on the target itself (a vendor's listing may show its assessments' findings too)
  that is neither in the baseline nor known to the ledger is a **candidate**.
  Exactly one candidate is ours. When Coverbase does return ``title`` / ``body``, they narrow the
  candidates first (the body names the source record, so a body match is proof); so does the
  finding's ``created_at``: one made long before or after the create was sent is someone else's;
- zero candidates: the create did not happen; several: not conclusive, so nothing is created
  again and the record waits ("awaiting confirmation") with the candidates named.

Creates on one target never overlap (``Target.lock``), so two creates of this run cannot both be
candidates of one read-back; and after a create whose outcome stays unknown (no conclusive read-back),
no other create is sent to that target in the same run (``Target.unsettled``). Waiting for that
lock is bounded and holds no request slot.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.coverbase.models import Finding
from connector.sync.entities.finding_payloads import same_text

LOCK_WAIT_SECONDS = 900.0  # far above one create plus its read-back; a record that waits longer is retried
# When a create was sent, its finding's ``created_at`` (Coverbase's clock) falls within these bounds
# of the send time (ours): clocks may differ by minutes, and a backend may commit well after a
# gateway timed out, but not hours later. A new finding made outside them is someone else's.
CLOCK_SKEW_SECONDS = 300
COMMIT_WINDOW_SECONDS = 1800


@dataclass
class Verdict:
    adopt: str | None = None  # the finding that is ours
    how: str = ""  # the evidence, for the ledger message
    candidates: list[str] = field(default_factory=list)  # could be ours (inconclusive when several)
    foreign: list[str] = field(default_factory=list)  # new, but shown by title, body or time not to be ours

    @property
    def none(self) -> bool:
        return self.adopt is None and not self.candidates


def on_target(f: Finding, kind: str | None, target: str | None) -> bool:
    """A vendor's listing may also show the findings of its assessments: those are never ours."""
    if kind == "vendor_id":
        return f.assessment_id is None and f.vendor_id in (None, target)
    if kind == "assessment_id":
        return f.assessment_id == target
    return True


def made_in_window(f: Finding, sent_at: float | None) -> bool:
    """Could ``f`` be the finding of a create sent at ``sent_at`` (Unix seconds)? Yes when either
    time is unknown."""
    if sent_at is None or f.created_at is None:
        return True
    return sent_at - CLOCK_SKEW_SECONDS <= f.created_at <= sent_at + COMMIT_WINDOW_SECONDS


def sent_at_of(attempt: dict) -> float | None:
    """When an attempt's create was sent (Unix seconds), from its write-ahead record."""
    if attempt.get("at_ns"):
        return attempt["at_ns"] / 1e9
    try:
        return datetime.strptime(attempt.get("at") or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def analyse(listing: list[Finding], *, baseline: set[str], known: set[str], title: str, marker: str,
            kind: str | None = None, target: str | None = None, sent_at: float | None = None) -> Verdict:
    new = [f for f in listing if f.id not in baseline and f.id not in known and on_target(f, kind, target)]
    named = [f for f in new if f.body is not None and marker in f.body]
    if len(named) == 1:
        return Verdict(adopt=named[0].id, how="its body names the source record")
    if named:  # cannot happen unless something copied our body; let a person decide
        return Verdict(candidates=sorted(f.id for f in named))
    # Without a body naming the record, a finding made far from the create's time is someone else's.
    late = [f.id for f in new if not made_in_window(f, sent_at)]
    new = [f for f in new if f.id not in late]
    possible = [f for f in new if f.body is None and (f.title is None or same_text(f.title, title))]
    foreign = sorted([f.id for f in new if f not in possible] + late)
    if len(possible) == 1:
        how = "the only new finding on the target" + (" with its title" if possible[0].title is not None else "")
        return Verdict(adopt=possible[0].id, how=how, foreign=foreign)
    return Verdict(candidates=sorted(f.id for f in possible), foreign=foreign)


def relink(listing: list[Finding], *, known: set[str], marker: str) -> str | None:
    """A finding already on the target whose body names this record (state lost, or an earlier
    attempt that left no ledger row): only possible when Coverbase returns bodies."""
    named = [f.id for f in listing if f.id not in known and f.body is not None and marker in f.body]
    return named[0] if len(named) == 1 else None


@dataclass
class Target:
    """One vendor or assessment that findings are created on during a run."""

    kind: str  # "vendor_id" or "assessment_id"
    id: str
    listing: list[Finding] | None = None  # as read at planning time (None: not read, or the read failed)
    error: str | None = None
    known: set[str] = field(default_factory=set)  # baseline for the next create
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when a create on the target ended this run without a conclusive read-back (the read-back
    # failed, a gateway may still commit it, an unexpected error): its finding may exist, or appear,
    # outside ``known``, where the next create's read-back would take it for its own. No other
    # create goes to the target this run; the next run resolves the first from the ledger.
    unsettled: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind.removesuffix('_id')} {self.id}"
