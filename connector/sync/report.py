"""The run report: planned actions and outcomes per entity, samples, and the first problems."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from connector.sync.outcomes import OUTCOMES

PROBLEM_OUTCOMES = ("invalid", "rejected", "transient", "deferred")


@dataclass
class Problem:
    key: str
    label: str
    outcome: str
    reason: str


@dataclass
class EntityReport:
    entity: str
    samples_per_action: int = 5
    max_problems: int = 20
    planned: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)
    # Records that need a person's eye although nothing failed: {kind: [{key, label, detail}]}
    # (findings: "awaiting_confirmation", "not_propagated").
    attention: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)  # advice: delivered, but look at this
    repairs: list[Problem] = field(default_factory=list)  # what was repaired rather than refused
    warning_count: int = 0
    repair_count: int = 0
    api_calls: int = 0
    duration_s: float = 0.0
    _t0: float = field(default_factory=time.monotonic)

    def plan(self, action: str, key: str, label: str, detail: str = "") -> None:
        self.planned[action] += 1
        bucket = self.samples.setdefault(action, [])
        if len(bucket) < self.samples_per_action:
            bucket.append({"key": key, "label": label, "detail": detail})

    def outcome(self, outcome: str, key: str, label: str, reason: str = "") -> None:
        self.outcomes[outcome] += 1
        if outcome in PROBLEM_OUTCOMES and len(self.problems) < self.max_problems:
            self.problems.append(Problem(key, label, outcome, reason))

    def flag(self, kind: str, key: str, label: str, detail: str) -> None:
        rows = self.attention.setdefault(kind, [])
        if len(rows) < self.max_problems * 5:
            rows.append({"key": key, "label": label, "detail": detail})

    def attention_markdown(self, kind: str, limit: int = 50) -> str:
        rows = self.attention.get(kind, [])[:limit]
        out = ["| key | record | detail |", "|---|---|---|"]
        for r in rows:
            detail = r["detail"].replace("|", "\\|").replace("\n", " ")[:400]
            label = r["label"].replace("|", "\\|")[:80]
            out.append(f"| `{r['key']}` | {label} | {detail} |")
        return "\n".join(out)

    def warn(self, key: str, label: str, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.max_problems * 5:
            self.warnings.append(Problem(key, label, "warning", text))

    def repaired(self, key: str, label: str, text: str) -> None:
        self.repair_count += 1
        if len(self.repairs) < self.max_problems * 5:
            self.repairs.append(Problem(key, label, "repaired", text))

    def finish(self, api_calls: int) -> None:
        self.api_calls = api_calls
        self.duration_s = round(time.monotonic() - self._t0, 3)

    def counts(self) -> dict[str, int]:
        return {o: self.outcomes.get(o, 0) for o in OUTCOMES}

    def problems_markdown(self, limit: int = 20) -> str:
        rows = [p for p in self.problems if p.outcome in ("rejected", "invalid")][:limit]
        if not rows:
            return "No rejected or invalid records."
        out = ["| key | record | outcome | reason |", "|---|---|---|---|"]
        for p in rows:
            reason = p.reason.replace("|", "\\|").replace("\n", " ")[:300]
            label = p.label.replace("|", "\\|")[:80]
            out.append(f"| `{p.key}` | {label} | {p.outcome} | {reason} |")
        return "\n".join(out)

    @staticmethod
    def notes_markdown(rows: list[Problem], total: int, what: str) -> str:
        out = [f"| key | record | {what} |", "|---|---|---|"]
        for p in rows:
            text = p.reason.replace("|", "\\|").replace("\n", " ")[:400]
            label = p.label.replace("|", "\\|")[:80]
            out.append(f"| `{p.key}` | {label} | {text} |")
        if total > len(rows):
            out.append(f"| … | | {total - len(rows)} more (see the ledger) |")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"planned": dict(self.planned), "outcomes": self.counts(), "samples": self.samples,
                "problems": [p.__dict__ for p in self.problems], "api_calls": self.api_calls,
                "duration_s": self.duration_s, "notes": dict(self.notes), "attention": self.attention,
                "warnings": [p.__dict__ for p in self.warnings], "repairs": [p.__dict__ for p in self.repairs]}


@dataclass
class RunReport:
    run_id: str
    mode: str
    entities: dict[str, EntityReport] = field(default_factory=dict)
    fatal: str | None = None

    def entity(self, name: str, **kw: Any) -> EntityReport:
        if name not in self.entities:
            self.entities[name] = EntityReport(name, **kw)
        return self.entities[name]

    def summary_lines(self) -> list[str]:
        lines = []
        for name, rep in self.entities.items():
            counts = ", ".join(f"{k} {v}" for k, v in rep.counts().items() if v)
            lines.append(f"{name:<12} {counts or 'nothing to do'}")
        if self.fatal:
            lines.append(f"FATAL: {self.fatal}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "mode": self.mode, "fatal": self.fatal,
                "entities": {k: v.to_dict() for k, v in self.entities.items()}}
