"""What a write-back writes: the observed Coverbase outcome, the column values, the work note.

Pure functions, no I/O. A *change* is a change of ``(status, score_percent, findings_count)``;
other attribute updates (an assignee, ``updated_at`` alone) write no note.

Every note carries a marker, ``[cbwb-<16 hex>]``, derived from the record, the Coverbase id, the
note's sequence number and the outcome it reports. It plays the part of an idempotency key that
ServiceNow does not have: before a write that may already have landed is sent again, the journal
is searched for its marker (``connector/writeback/engine.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.config import WriteBackConfig
from connector.coverbase.models import Assessment

ENTITY = "assessment_outcome"  # ledger entity of the write-back (one row per assessment record)
TERMINAL = frozenset({"complete", "failed", "canceled"})
MARKER_PREFIX = "cbwb-"


@dataclass(frozen=True)
class Observed:
    assessment_id: str
    status: str | None
    score_percent: float | None
    findings_count: int
    updated_at: int | None

    @classmethod
    def of(cls, a: Assessment) -> Observed:
        return cls(a.id, a.status, a.score_percent, int(a.findings_count or 0), a.updated_at)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Observed | None:
        return cls(**{k: d.get(k) for k in ("assessment_id", "status", "score_percent", "findings_count",
                                             "updated_at")}) if d else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def terminal(self) -> bool:
        return (self.status or "") in TERMINAL

    @property
    def hash(self) -> str:
        key = {"status": self.status, "score_percent": self.score_percent, "findings_count": self.findings_count}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def score_text(score: float | None) -> str:
    """Coverbase's ``score_percent`` is a decimal, usually 0–1: shown as a percentage."""
    if score is None:
        return ""
    pct = score * 100 if score <= 1 else score
    return f"{pct:.1f}".rstrip("0").rstrip(".")


def _sn_time(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") if epoch else ""


def attribute_value(obs: Observed, attribute: str) -> str:
    """The ServiceNow text of one Coverbase attribute (every ServiceNow value is a string)."""
    if attribute == "status":
        return obs.status or ""
    if attribute == "score":
        return score_text(obs.score_percent)
    if attribute == "score_percent":
        return "" if obs.score_percent is None else repr(round(obs.score_percent, 6))
    if attribute == "findings_count":
        return str(obs.findings_count)
    if attribute == "assessment_id":
        return obs.assessment_id
    if attribute == "updated_at":
        return _sn_time(obs.updated_at)
    raise ValueError(f"unknown attribute {attribute!r}")


def desired_columns(obs: Observed, cfg: WriteBackConfig) -> dict[str, str]:
    """Column -> value this outcome asks for: the field mappings, then the explicit value maps
    (a status a map does not name leaves that column alone)."""
    out = {column: attribute_value(obs, attribute) for attribute, column in cfg.fields.items()}
    for column, values in cfg.state_map.items():
        if obs.status in values:
            out[column] = values[obs.status]
    return out


INTEGER_TYPES = frozenset({"integer", "longint"})


def fit_to_column(value: str, internal_type: str | None) -> str:
    """An integer column cannot hold ``72.5``: round half up, so the read-back compares like with like."""
    if internal_type in INTEGER_TYPES:
        number = _number(value)
        if number is not None:
            return str(int(number.to_integral_value(rounding="ROUND_HALF_UP")))
    return value


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def same_value(a: str | None, b: str | None) -> bool:
    """ServiceNow may store ``72.50`` for ``72.5`` in a decimal column: numbers compare as numbers."""
    x, y = (a or "").strip(), (b or "").strip()
    if x == y:
        return True
    nx, ny = _number(x), _number(y)
    return nx is not None and ny is not None and nx == ny


def marker_for(sys_id: str, coverbase_id: str, seq: int, outcome_hash: str) -> str:
    digest = hashlib.sha256(f"{sys_id}|{coverbase_id}|{seq}|{outcome_hash}".encode()).hexdigest()[:16]
    return f"{MARKER_PREFIX}{digest}"


def _label(status: str | None) -> str:
    return (status or "unknown").replace("_", " ").capitalize()


def note_text(obs: Observed, previous: Observed | None, marker: str) -> str:
    """The work note: internal (``work_notes``), never ``comments``, which third-party contacts see."""
    was = f" (was {_label(previous.status)})" if previous and previous.status != obs.status else ""
    score = f"{score_text(obs.score_percent)}%" if obs.score_percent is not None else "not scored yet"
    lines = [
        f"Coverbase assessment status: {_label(obs.status)}{was}",
        f"Score: {score}",
        f"Findings: {obs.findings_count}",
        f"Coverbase assessment id: {obs.assessment_id}",
        f"Changed in Coverbase at: {_sn_time(obs.updated_at) or 'unknown'} UTC",
        f"[{marker}]",
    ]
    return "\n".join(lines)
