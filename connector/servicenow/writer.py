"""Table API writes for the write-back (servicenow-writes.md §B).

A ServiceNow write is not idempotent: a PATCH carrying ``work_notes`` appends a journal entry
each time it lands, and there is no ETag, If-Match or idempotency key. So this module sends a
write exactly once per call and says what the answer proves:

- ``written``: 200 with a record: it landed (fields may still have been dropped silently, which
  only a read-back shows);
- ``not_sent`` / ``rate_limited``: it provably did not land (no connection; 429 is refused before
  processing), so sending again is safe;
- ``in_doubt``: 5xx, 202, a truncated/HTML/null 200, or a connection lost after sending: it may
  have landed; the caller must read the journal back before sending again;
- ``denied`` (403), ``not_found`` (404: missing or unreadable), ``bad_request`` (other 4xx):
  nothing landed; the record's outcome.

A 401 is fatal (raised). Reads (the record, the journal) go through the client's retrying GET.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import (
    ServiceNowAuthError,
    ServiceNowError,
    ServiceNowNotFound,
    ServiceNowRateLimited,
    ServiceNowTransportError,
    error_from_response,
    validate_body,
)

WRITE_ROLE = "sn_vdr_risk_asmt.vendor_assessor"
JOURNAL_TABLE = "sys_journal_field"

Kind = Literal["written", "not_sent", "rate_limited", "in_doubt", "denied", "not_found", "bad_request"]


@dataclass
class WriteAnswer:
    kind: Kind
    status: int | None
    message: str
    record: dict[str, Any] | None = None
    retry_after: float | None = None
    request_id: str | None = None

    @property
    def landed(self) -> bool:
        return self.kind == "written"

    @property
    def safe_to_resend(self) -> bool:
        return self.kind in ("not_sent", "rate_limited")


def record_path(table: str, sys_id: str) -> str:
    return f"/api/now/table/{quote(table, safe='')}/{quote(sys_id, safe='')}"


class ServiceNowWriter:
    """Writes and read-backs on one table, through one client (the write credentials)."""

    def __init__(self, client: ServiceNowClient) -> None:
        self.client = client

    def patch(self, table: str, sys_id: str, body: dict[str, Any], *, fields: list[str]) -> WriteAnswer:
        path = record_path(table, sys_id)
        params = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false",
                  "sysparm_fields": ",".join(dict.fromkeys(["sys_id", "sys_mod_count", "sys_updated_on",
                                                            "sys_updated_by", *fields]))}
        try:
            resp = self.client.send_write("PATCH", path, json=body, params=params)
        except ServiceNowTransportError as exc:
            kind: Kind = "in_doubt" if exc.sent else "not_sent"
            return WriteAnswer(kind, None, f"no answer ({exc.message})")
        return self._classify(resp, path)

    def _classify(self, resp: httpx.Response, path: str) -> WriteAnswer:
        status = resp.status_code
        rid = resp.headers.get("x-request-id") or resp.headers.get("x-transaction-id")
        if status == 200:
            try:
                body = validate_body(resp, "PATCH", path)
            except ServiceNowError as exc:
                return WriteAnswer("in_doubt", status, f"200 without a usable record ({exc.message})", request_id=rid)
            record = body.get("result")
            if not isinstance(record, dict):
                return WriteAnswer("in_doubt", status, "200 whose result is not a record", request_id=rid)
            return WriteAnswer("written", status, "200", record=record, request_id=rid)
        if 200 < status < 300 and status != 202:
            return WriteAnswer("written", status, f"{status} without a body", request_id=rid)
        err = error_from_response(resp, "PATCH", path)
        if isinstance(err, ServiceNowAuthError):
            raise ServiceNowAuthError(f"ServiceNow rejected the write credentials ({err.message}); check "
                                      "SERVICENOW_WRITE_USERNAME / SERVICENOW_WRITE_PASSWORD (or the read "
                                      "credentials when those are not set)", status=401, method="PATCH", path=path)
        text = f"{status} {err.message}"
        if status == 202:
            return WriteAnswer("in_doubt", status, "202: queued behind another request, outcome unknown",
                               request_id=rid)
        if isinstance(err, ServiceNowRateLimited):
            retry_after = err.retry_after if err.retry_after is not None else self.client.retry.rate_limit_default_wait
            self.client.gate.pause_for(retry_after)  # every writer of this client waits, not just this one
            return WriteAnswer("rate_limited", status, text, retry_after=retry_after, request_id=rid)
        if status >= 500:
            return WriteAnswer("in_doubt", status, text, request_id=rid)
        if status == 403:
            return WriteAnswer("denied", status, text, request_id=rid)
        if status == 404:
            return WriteAnswer("not_found", status, text, request_id=rid)
        return WriteAnswer("bad_request", status, text, request_id=rid)

    def read(self, table: str, sys_id: str, fields: list[str]) -> dict[str, Any] | None:
        """The record's current values (``None``: missing, or the write user may not read it)."""
        params = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false",
                  "sysparm_fields": ",".join(dict.fromkeys(["sys_id", "sys_mod_count", "sys_updated_on",
                                                            "sys_updated_by", *fields]))}
        try:
            body = self.client.get_json(record_path(table, sys_id), params)
        except ServiceNowNotFound:
            return None
        result = body.get("result")
        return result if isinstance(result, dict) else None

    def journal(self, sys_id: str, marker: str, element: str = "work_notes") -> list[dict[str, Any]]:
        """Journal entries of one record whose text carries ``marker`` (oldest first)."""
        query = f"element_id={sys_id}^element={element}^valueLIKE{marker}^ORDERBYsys_created_on"
        body = self.client.get_json(f"/api/now/table/{JOURNAL_TABLE}", {
            "sysparm_query": query, "sysparm_fields": "sys_id,element_id,element,sys_created_on,sys_created_by,value",
            "sysparm_limit": 50})
        rows = body.get("result") or []
        # The query is a substring match: keep only entries whose text really carries the marker.
        return [r for r in rows if isinstance(r, dict) and marker in str(r.get("value", ""))]
