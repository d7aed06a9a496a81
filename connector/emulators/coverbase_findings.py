"""Findings in the Coverbase emulator (contract §2.6); their routes are in ``coverbase_routes_findings.py``.

- ``POST /v1/findings`` (201, NOT idempotent: the ``Idempotency-Key`` header is ignored): ``title``
  required; exactly one of ``vendor_id`` / ``assessment_id``, else a standard 422 validation item
  with the documented msg; a bad reference or status id is ``400 invalid_finding``;
- ``GET /v1/findings`` (``vendor_id``, ``assessment_id``, ``limit`` 1–200, ``offset``; envelope
  ``items,total,limit,offset``, newest first, archived ones included) and ``GET /v1/findings/{id}``
  (``404 finding_not_found``, also for another org's finding);
- ``PATCH /v1/findings/{id}``: ``finding_status_id``, ``due_date``, ``is_archived`` (true archives,
  false restores); null means no change; ``title``/``body`` are silently ignored, as a FastAPI model
  without those fields would; an unknown status is ``400 invalid_update``.

The documented finding object has neither ``title`` nor ``body``: by default they are left out of
every response; ``include_text`` (CLI ``--findings-text``, or ``PUT /_emulator/findings_text``) adds
them, as a real Coverbase might. ``POST /_emulator/findings`` makes a finding "by hand" (a person or
Coverbase's own assessment analysis), which the connector must never mistake for its own.
"""

from __future__ import annotations

from typing import Any

from connector.emulators import fixtures
from connector.emulators.coverbase_errors import coded, invalid
from connector.emulators.coverbase_state import Org, StoreState

EXACTLY_ONE = "Exactly one of vendor_id or assessment_id must be provided."
_FIELDS = ("id", "public_idx", "vendor_id", "assessment_id", "finding_status_id", "due_date", "is_archived",
           "created_at", "updated_at")


def finding_view(f: dict, *, text: bool) -> dict:
    out = {k: f[k] for k in _FIELDS}
    if text:
        out.update(title=f["title"], body=f["body"])
    return out


def _type_errors(body: dict, spec: dict[str, str]) -> list[tuple[list, str, str]]:
    """FastAPI/pydantic (lax mode) type checks of the fields that are present and not null."""
    errors = []
    for name, kind in spec.items():
        v = body.get(name)
        if v is None:
            continue
        if kind == "str" and not isinstance(v, str):
            errors.append((["body", name], "Input should be a valid string", "string_type"))
        elif kind == "int" and (isinstance(v, bool)
                                or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))):
            errors.append((["body", name], "Input should be a valid integer", "int_type"))
        elif kind == "bool" and not isinstance(v, bool):
            errors.append((["body", name], "Input should be a valid boolean", "bool_type"))
    return errors


class FindingRules:
    """Business rules over ``store.findings`` (the caller holds ``store.lock``)."""

    def __init__(self, store: StoreState) -> None:
        self.store = store
        self.include_text = False

    def _next_idx(self, org: str) -> str:
        n = sum(1 for f in self.store.findings.values() if f["org"] == org) + 1
        return f"F-{n}"

    def create(self, org: Org, body: Any) -> dict:
        if not isinstance(body, dict):
            raise invalid((["body"], "Input should be a valid dictionary or object to extract fields from",
                           "model_attributes_type"))
        errors = _type_errors(body, {"title": "str", "body": "str", "vendor_id": "str", "assessment_id": "str",
                                     "finding_status_id": "str", "due_date": "int"})
        if body.get("title") is None:
            errors.insert(0, (["body", "title"], "Field required", "missing"))
        if errors:
            raise invalid(*errors)
        if (body.get("vendor_id") is None) == (body.get("assessment_id") is None):
            # A model validator: runs only once every field is valid, reported as a standard 422 item.
            raise invalid((["body"], EXACTLY_ONE, "value_error"))
        s = self.store
        vendor_id, assessment_id = body.get("vendor_id"), body.get("assessment_id")
        if vendor_id is not None:
            v = s.vendors.get(vendor_id)
            if not v or v["org"] != org.id:
                raise coded(400, "invalid_finding", f"Invalid vendor_id: {vendor_id}")
            finding_vendor = vendor_id
        else:
            a = s.assessments.get(assessment_id)  # type: ignore[arg-type]
            if not a or a["org"] != org.id:
                raise coded(400, "invalid_finding", f"Invalid assessment_id: {assessment_id}")
            finding_vendor = a["vendor_id"] if s.assessment_findings_carry_vendor else None
        status = body.get("finding_status_id")
        if status is not None and status not in fixtures.FINDING_STATUSES:
            raise coded(400, "invalid_finding", f"Invalid finding_status_id: {status}")
        now = s.now()
        due = body.get("due_date")
        f = {"id": s.new_id("cbtask"), "org": org.id, "public_idx": self._next_idx(org.id), "vendor_id": finding_vendor,
             "assessment_id": assessment_id, "finding_status_id": status,
             "due_date": int(due) if due is not None else None, "is_archived": False, "created_at": now,
             "updated_at": now, "title": body["title"], "body": body.get("body"), "_seq": s.next_seq()}
        s.findings[f["id"]] = f
        return finding_view(f, text=self.include_text)

    def in_org(self, org: str, finding_id: str) -> dict:
        f = self.store.findings.get(finding_id)
        if not f or f["org"] != org:
            raise coded(404, "finding_not_found", "Finding not found.")
        return f

    def list(self, org: str, vendor_id: str | None, assessment_id: str | None) -> list[dict]:
        rows = [f for f in self.store.findings.values() if f["org"] == org]
        if vendor_id is not None:
            rows = [f for f in rows if f["vendor_id"] == vendor_id]
        if assessment_id is not None:
            rows = [f for f in rows if f["assessment_id"] == assessment_id]
        rows.sort(key=lambda f: -f["_seq"])  # newest first [INF: ordering is not documented]
        return [finding_view(f, text=self.include_text) for f in rows]

    def patch(self, org: str, finding_id: str, body: Any) -> dict:
        if not isinstance(body, dict):
            raise invalid((["body"], "Input should be a valid dictionary or object to extract fields from",
                           "model_attributes_type"))
        errors = _type_errors(body, {"finding_status_id": "str", "due_date": "int", "is_archived": "bool"})
        if errors:
            raise invalid(*errors)
        f = self.in_org(org, finding_id)
        status = body.get("finding_status_id")
        if status is not None and status not in fixtures.FINDING_STATUSES:
            raise coded(400, "invalid_update", f"Invalid finding_status_id: {status}")
        if status is not None:
            f["finding_status_id"] = status
        if body.get("due_date") is not None:
            f["due_date"] = int(body["due_date"])
        if body.get("is_archived") is not None:
            f["is_archived"] = bool(body["is_archived"])
        f["updated_at"] = self.store.now()
        return finding_view(f, text=self.include_text)


def snapshot_of(store: StoreState, org: str) -> list[dict]:
    """Every finding of an org with its text (for tests; outside /v1)."""
    return [finding_view(f, text=True) for f in sorted(store.findings.values(), key=lambda f: f["_seq"])
            if f["org"] == org]
