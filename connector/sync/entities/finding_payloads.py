"""The finding a ServiceNow issue becomes (pinned mapping of the findings issue).

- ``title`` = ``short_description``, the ``number`` when it is empty;
- ``body`` = ``description`` plus one line naming the source record (number and sys_id): the line
  also lets the connector recognise its own finding when a Coverbase answers with bodies;
- ``due_date`` = Unix seconds of ``due_date`` (null when empty);
- ``finding_status_id`` from ``findings.status_map`` (omitted when the state is unmapped);
- ``vendor_id`` or ``assessment_id``: the target, decided by the entity.

Title, body and target cannot be changed in Coverbase after creation; status and due date can.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.canonical import CanonicalIssue
from connector.config import FindingsConfig

MUTABLE = ("finding_status_id", "due_date")
IMMUTABLE = ("title", "body", "vendor_id", "assessment_id")


def due_seconds(raw: str | None) -> tuple[int | None, str | None]:
    """(Unix seconds, problem). ServiceNow sends UTC ``YYYY-MM-DD HH:MM:SS`` or a date; exports may
    send ISO 8601. A date without a time is midnight UTC."""
    if not raw or not raw.strip():
        return None, None
    s = raw.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(s, fmt).replace(tzinfo=UTC).timestamp()), None
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None, f"due date {raw!r} is not a date: sent without a due date"
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()), None


def record_line(x: CanonicalIssue) -> str:
    if x.source == "servicenow":
        return f"ServiceNow {x.table or 'issue'} {x.number or '(no number)'} (sys_id {x.key})"
    return f"File export {x.table or 'issues'} {x.number or x.key} (key {x.key})"


def marker(x: CanonicalIssue) -> str:
    """What a finding's body contains if and only if it was made from this record."""
    return f"(sys_id {x.key})" if x.source == "servicenow" else f"(key {x.key})"


def title_of(x: CanonicalIssue) -> str | None:
    return x.title or x.number


def finding_fields(x: CanonicalIssue, cfg: FindingsConfig) -> tuple[dict[str, Any], list[str]]:
    """Everything but the target: (fields, notes). The caller checks that a title exists."""
    notes: list[str] = []
    title = title_of(x)
    if not x.title and title:
        notes.append(f"short_description is empty: titled with its number {title}")
    description = (x.description or "").strip()
    body = f"{description}\n\n{record_line(x)}" if description else record_line(x)
    fields: dict[str, Any] = {"title": title, "body": body}
    status = cfg.status_for(x.state)
    if status:
        fields["finding_status_id"] = status
    elif x.state and not cfg.known_state(x.state):
        notes.append(f"unknown state {x.state!r} (not in findings.states): created without finding_status_id")
    elif x.state and cfg.status_map:
        notes.append(f"state {x.state} ({cfg.state_name(x.state)}) has no findings.status_map entry: "
                     "sent without finding_status_id")
    due, problem = due_seconds(x.due_date)
    if due is not None:
        fields["due_date"] = due
    if problem:
        notes.append(problem)
    return fields, notes


def same_text(a: str | None, b: str | None) -> bool:
    """Equal up to surrounding and repeated whitespace (a server may trim or collapse it)."""
    return " ".join((a or "").split()) == " ".join((b or "").split())


def not_propagated(held: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Changes of fields Coverbase cannot change after creation, as notes."""
    notes = []
    if not same_text(held.get("title"), desired.get("title")):
        notes.append(f"title changed at the source ({held.get('title')!r} -> {desired.get('title')!r}): not "
                     "propagated, Coverbase cannot change a finding's title")
    if not same_text(held.get("body"), desired.get("body")):
        notes.append("description changed at the source: not propagated, Coverbase cannot change a finding's body")
    before = held.get("assessment_id") or held.get("vendor_id")
    after = desired.get("assessment_id") or desired.get("vendor_id")
    if before and after and before != after:
        notes.append(f"target changed at the source ({before} -> {after}): not propagated, a finding cannot move")
    return notes


def mutable_changes(held: dict[str, Any], desired: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(PATCH body, notes) from what Coverbase holds to what the source says."""
    changes, notes = {}, []
    for f in MUTABLE:
        if desired.get(f) is not None and desired.get(f) != held.get(f):
            changes[f] = desired[f]
        elif desired.get(f) is None and held.get(f) is not None:
            what = "due date" if f == "due_date" else "status (the state is no longer mapped)"
            notes.append(f"{what} no longer set from the source: not propagated, Coverbase keeps {held[f]} (a PATCH "
                         "cannot clear it)")
    return changes, notes
