"""What one write-back run did (or would do): outcomes per record, field conflicts and drops."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Per-record outcomes. written: a note (and fields) landed; unchanged: the Coverbase outcome is the one
# last written back (no ServiceNow call); rejected: ServiceNow refused (403, 404, 400) or dropped the note;
# transient: an error worth retrying (429 budget spent, a write in doubt, Coverbase unavailable);
# deferred: a write in doubt too recent to verify; skipped: not this run's business.
OUTCOMES = ("written", "unchanged", "rejected", "transient", "deferred", "skipped")


@dataclass
class Finding:
    key: str
    label: str
    kind: str  # outcome, or "conflict" / "dropped" / "duplicate"
    text: str


@dataclass
class WriteBackReport:
    run_id: str
    dry_run: bool = False
    max_items: int = 50
    outcomes: Counter = field(default_factory=Counter)
    planned: Counter = field(default_factory=Counter)
    samples: list[dict[str, str]] = field(default_factory=list)
    notes_written: int = 0
    fields_written: int = 0
    recovered: int = 0  # writes in doubt found in the journal and confirmed
    conflicts: list[Finding] = field(default_factory=list)
    dropped: list[Finding] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    conflict_count: int = 0
    dropped_count: int = 0
    servicenow_calls: int = 0
    coverbase_calls: int = 0
    duration_s: float = 0.0
    fatal: str | None = None
    _t0: float = field(default_factory=time.monotonic)

    def outcome(self, outcome: str, key: str, label: str, reason: str = "") -> None:
        self.outcomes[outcome] += 1
        if outcome in ("rejected", "transient", "deferred") and len(self.problems) < self.max_items:
            self.problems.append(Finding(key, label, outcome, reason))

    def plan(self, action: str, key: str, label: str, detail: str) -> None:
        self.planned[action] += 1
        if len(self.samples) < self.max_items:
            self.samples.append({"key": key, "label": label, "action": action, "detail": detail})

    def conflict(self, key: str, label: str, text: str) -> None:
        self.conflict_count += 1
        if len(self.conflicts) < self.max_items:
            self.conflicts.append(Finding(key, label, "conflict", text))

    def drop(self, key: str, label: str, text: str) -> None:
        self.dropped_count += 1
        if len(self.dropped) < self.max_items:
            self.dropped.append(Finding(key, label, "dropped", text))

    def finish(self, servicenow_calls: int, coverbase_calls: int) -> None:
        self.servicenow_calls, self.coverbase_calls = servicenow_calls, coverbase_calls
        self.duration_s = round(time.monotonic() - self._t0, 3)

    def counts(self) -> dict[str, int]:
        return {o: self.outcomes.get(o, 0) for o in OUTCOMES}

    def summary_lines(self) -> list[str]:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items() if v) or "nothing to do"
        lines = [f"write-back{' (dry run)' if self.dry_run else ''}: {counts}; notes {self.notes_written}, "
                 f"fields {self.fields_written}, conflicts {self.conflict_count}, dropped {self.dropped_count}"]
        lines += [f"  conflict {f.key} ({f.label}): {f.text}" for f in self.conflicts[:10]]
        lines += [f"  dropped {f.key} ({f.label}): {f.text}" for f in self.dropped[:10]]
        lines += [f"  {f.kind} {f.key} ({f.label}): {f.text}" for f in self.problems[:10]]
        if self.fatal:
            lines.append(f"FATAL: {self.fatal}")
        return lines

    def markdown(self, findings: list[Finding]) -> str:
        if not findings:
            return "None."
        out = ["| record | assessment | what | detail |", "|---|---|---|---|"]
        for f in findings[: self.max_items]:
            text = f.text.replace("|", "\\|").replace("\n", " ")[:300]
            out.append(f"| `{f.key}` | {f.label.replace('|', '/')[:80]} | {f.kind} | {text} |")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "dry_run": self.dry_run, "outcomes": self.counts(),
                "planned": dict(self.planned),
                "notes_written": self.notes_written, "fields_written": self.fields_written,
                "recovered": self.recovered, "conflicts": [f.__dict__ for f in self.conflicts],
                "conflict_count": self.conflict_count, "dropped": [f.__dict__ for f in self.dropped],
                "dropped_count": self.dropped_count, "problems": [f.__dict__ for f in self.problems],
                "samples": self.samples, "servicenow_calls": self.servicenow_calls,
                "coverbase_calls": self.coverbase_calls, "duration_s": self.duration_s, "fatal": self.fatal}
