"""The ``issues`` table of a file export: validated with the rest of the export, mapped to canonical
issues (which the findings entity turns into Coverbase findings, as it does ServiceNow's).

A row names its vendor, service and/or assessment by their keys in the export; ``state`` is free
text matched against ``findings.states`` / ``status_map`` / ``archive_states`` by name (``Closed
Complete``, ``closed_complete`` and ``closed-complete`` are the same); ``due_date`` is a date or an ISO
8601 date-time. A row with none of vendor, service or assessment is not an export problem: it
becomes an ``invalid`` record with the reason, like the same issue from ServiceNow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.canonical import CanonicalIssue
from connector.sources.export_tables import Problem, Table
from connector.state import StateDB

SOURCE = "files"


def _date_ok(value: str) -> bool:
    for parse in (lambda v: datetime.strptime(v, "%Y-%m-%d"), lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S"),
                  lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))):
        try:
            parse(value.strip())
            return True
        except ValueError:
            pass
    return False


def validate_issues(v: Any, t: Table, rows: dict[str, tuple[int, dict]]) -> None:
    """``v`` is the export validator of ``connector.sources.files``: its columns, problems, export and
    reference checks."""
    file = t.file or "issues"
    cols = v.columns["issues"]
    for key, (line, row) in rows.items():
        val = lambda f: v.val("issues", row, f)  # noqa: E731
        vendor, service, assessment = val("vendor"), val("service"), val("assessment")
        v.check_vendor(file, line, cols["vendor"], vendor)
        if service:
            v.check_belongs(file, line, cols["service"], "service", service, vendor, vendor_required=False)
        if assessment:
            v.check_belongs(file, line, cols["assessment"], "assessment", assessment, vendor, vendor_required=False)
        due = val("due_date")
        if due and not _date_ok(due):
            v.problems.append(Problem(file, line, cols["due_date"], f"{due!r} is not a date (YYYY-MM-DD or ISO 8601)"))
        v.export.issues[key] = {"key": key, "number": val("number"), "title": val("title"),
                                "description": val("description"), "state": val("state"), "due_date": due,
                                "vendor": vendor, "service": service, "assessment": assessment}


def snapshot_issues(state: StateDB) -> dict[str, CanonicalIssue]:
    out: dict[str, CanonicalIssue] = {}
    for row in state.staged("issues", SOURCE, include_deleted=True):
        r = row.record
        out[row.key] = CanonicalIssue(
            source=SOURCE, key=row.key, label=r.get("title") or r.get("number") or row.key, table="issues",
            number=r.get("number"), title=r.get("title"), description=r.get("description"), state=r.get("state"),
            due_date=r.get("due_date"), vendor_key=r.get("vendor"), service_key=r.get("service"),
            assessment_key=r.get("assessment"), deleted=row.deleted_at is not None)
    return out
