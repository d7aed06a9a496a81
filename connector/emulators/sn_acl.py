"""Read ACLs of the integration user: what a real instance does when a role or an ACL is missing.

servicenow.md §3 item 3: per-user ACLs at table level and per-field omission. A table the user may
not read answers 403 on the Table, Stats and Attachment APIs (the wording of real instances varies:
"User Not Authorized" is the common one [uncertain]); a field the user may not read is simply left
out of every record (§1.4). Switched with the emulator's faults: ``denied_tables`` (table names,
``sys_attachment`` covers the Attachment API) and ``hidden_fields`` (``table.field``), settable at
start (``--faults``) and at run time (``PUT /_emulator/faults``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

JSON_TYPE = "application/json"


def denied(faults: Any, table: str) -> JSONResponse | None:
    """The 403 a table-level read ACL answers, or None when the table is readable."""
    if table not in set(getattr(faults, "denied_tables", None) or ()):
        return None
    return JSONResponse({"error": {"message": "User Not Authorized",
                                   "detail": f"Read ACL on {table} denies access to the requesting user"},
                         "status": "failure"}, status_code=403, media_type=JSON_TYPE)


def visible(faults: Any, table: str, names: list[str]) -> list[str]:
    """``names`` without the fields a field-level ACL hides from the integration user."""
    hidden = {f.partition(".")[2] for f in (getattr(faults, "hidden_fields", None) or ())
              if f.partition(".")[0] == table}
    return [n for n in names if n not in hidden] if hidden else names
