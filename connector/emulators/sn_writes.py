"""Table API writes of the ServiceNow emulator (servicenow-writes.md §B and its emulator checklist).

- ``PATCH`` and ``PUT /api/now/table/{table}/{sys_id}`` (also under ``/api/now/v1|v2``) are both
  partial updates: only the fields sent change; unknown columns and ``sys_*`` fields are ignored;
  ``""`` on a choice field is a no-op unless switched (the docs leave it undocumented);
- an effective update bumps ``sys_mod_count`` and sets ``sys_updated_on`` / ``sys_updated_by``
  (the API user); a no-op update changes nothing;
- journal fields (``work_notes``, ``comments``) append one ``sys_journal_field`` row per write,
  readable through the Table API; they read back as ``""`` on the record;
- 400 without ``Content-Type: application/json`` or without ``Accept``; 406 for an ``Accept`` that
  excludes JSON; 404 "No Record found" for an unknown or unreadable record; 403 "ACL Exception
  Update Failed" for a user without a write role; ``X-no-response-body: true`` answers 204;
- switches: fields silently dropped (200, value unchanged: a field-level ACL), records hidden from
  the API users (404 on read and write), extra API users with their own roles;
- seeded faults on writes: 429 with rate headers and 502/503 *before* processing, and the
  ambiguous write: committed, then answered 502/504 or the connection dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.emulators import sn_schema
from connector.emulators.faults import FaultRoller
from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_render import render
from connector.emulators.sn_responses import JSON_TYPE, sn_error

WRITE_ROLES = frozenset({"admin", "sn_vdr_risk_asmt.vendor_assessor", "sn_vdr_risk_asmt.vendor_risk_manager",
                         "sn_vdr_risk_asmt.vendor_risk_admin"})
JOURNAL = "journal_input"


class WriteSettings(BaseModel):
    """Settable at run time: ``PUT /_emulator/writes`` (JSON of these names)."""

    seed: int = 0
    # API users and their roles; a user not listed has ``default_roles``.
    roles: dict[str, list[str]] = Field(default_factory=dict)
    default_roles: list[str] = Field(default_factory=lambda: ["sn_vdr_risk_asmt.vendor_assessor"])
    protected_fields: list[str] = Field(default_factory=list)  # "table.field": 200, silently not stored
    hidden_records: list[str] = Field(default_factory=list)  # sys_ids the API users may not read
    choice_empty_clears: bool = False
    # A business rule that updates the record again right after every effective API write (checklist
    # item 11: "an async update that bumps sys_mod_count again"): field -> value it sets.
    after_write_rule: dict[str, str] = Field(default_factory=dict)
    no_response_body_status: int = 204
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0  # 502/503 before anything is stored
    rate_ambiguous: float = 0.0  # stored, then 502/504 or a dropped connection
    ambiguous_mode: Literal["status", "disconnect", "mixed"] = "mixed"


class _Dropped(Response):
    """Send the status line and part of the body, then drop the connection."""

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", JSON_TYPE.encode()), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"result":{"sys_id":"', "more_body": True})
        raise ConnectionAbortedError("emulated ambiguous write")


def _as_text(value: Any) -> str:
    """Every ServiceNow value is a string on the wire."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class TableWrites:
    def __init__(self, emu: ServiceNowInstance, settings: WriteSettings | None = None) -> None:
        self.emu = emu
        self.settings = settings or WriteSettings()
        self.roller = FaultRoller(self.settings.seed)
        self.users: dict[str, str] = {}  # extra API users: name -> password

    # --- identity ---------------------------------------------------------------------------

    def authenticates(self, user: str, password: str) -> bool:
        known = self.users.get(user)
        return known is not None and secrets.compare_digest(known, password)

    def user_of(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                return base64.b64decode(auth[6:]).decode().partition(":")[0]
            except ValueError:
                pass
        return self.emu.username  # OAuth tokens act for the configured integration user

    def roles_of(self, user: str) -> list[str]:
        return self.settings.roles.get(user, self.settings.default_roles)

    def hidden(self, sys_id: str) -> bool:
        return sys_id in self.settings.hidden_records

    # --- the write --------------------------------------------------------------------------

    def apply(self, table: str, row: dict[str, str], body: dict[str, Any], user: str) -> bool:
        """Store a partial update; True when anything changed (journal entries included)."""
        cls = row.get("sys_class_name") or table
        cols = sn_schema.columns(cls if cls in sn_schema.TABLES else table)
        protected = set(self.settings.protected_fields)
        changed, journal = False, []
        for name, value in body.items():
            col = cols.get(name)
            if col is None or name.startswith("sys_"):
                continue  # unknown columns are ignored; system fields are ServiceNow's
            if f"{cls}.{name}" in protected or f"{table}.{name}" in protected:
                continue  # a field-level ACL: 200, nothing stored, nothing said
            text = _as_text(value)
            if col.type == JOURNAL:
                if text.strip():
                    journal.append((name, text))
                continue
            if col.type == "choice" and text == "" and not self.settings.choice_empty_clears:
                continue
            if row.get(name, "") != text:
                row[name] = text
                changed = True
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        for element, text in journal:
            self.emu.insert("sys_journal_field", {
                "element_id": row["sys_id"], "element": element, "name": cls, "value": text,
                "sys_created_on": now, "sys_created_by": user, "sys_updated_on": now, "sys_updated_by": user})
        if changed or journal:
            row["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)
            row["sys_updated_on"] = now
            row["sys_updated_by"] = user
            if self.settings.after_write_rule:
                row.update(self.settings.after_write_rule)
                row["sys_mod_count"] = str(int(row["sys_mod_count"]) + 1)
                row["sys_updated_by"] = "system"
        return changed or bool(journal)

    def _fault(self, request: Request, raw: bytes) -> str | None:
        s = self.settings
        if not (s.rate_429 or s.rate_5xx or s.rate_ambiguous):
            return None
        rng = self.roller.rng_for("write", request.method, request.url.path, hashlib.sha256(raw).hexdigest())
        if s.rate_429 and rng.random() < s.rate_429:
            return "429"
        if s.rate_5xx and rng.random() < s.rate_5xx:
            return "5xx"
        if s.rate_ambiguous and rng.random() < s.rate_ambiguous:
            return s.ambiguous_mode if s.ambiguous_mode != "mixed" else rng.choice(["status", "disconnect"])
        return None

    async def write(self, request: Request) -> Response:
        emu, s = self.emu, self.settings
        table, sys_id = request.path_params["table"], request.path_params["sys_id"]
        ctype = request.headers.get("content-type", "")
        accept = request.headers.get("accept")
        if "application/json" not in ctype.lower():
            return sn_error(400, "Invalid content type", f"Content-Type must be application/json, not {ctype!r}")
        if not accept:
            return sn_error(400, "Invalid Accept header", "Accept is required on POST, PUT and PATCH")
        if not any(t in accept.lower() for t in ("application/json", "*/*", "application/*")):
            return sn_error(406, "Not Acceptable", f"cannot answer {accept!r}")
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return sn_error(400, "Exception while reading request", "The payload is not valid JSON.")
        if not isinstance(body, dict):
            return sn_error(400, "Exception while reading request", "The payload must be a JSON object.")
        user = self.user_of(request)
        with emu.lock:
            row = emu.find(table, sys_id)
        if row is None or self.hidden(sys_id):
            return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        if not WRITE_ROLES & set(self.roles_of(user)):
            return sn_error(403, "Operation Failed", "ACL Exception Update Failed due to security constraints")
        fault = self._fault(request, raw)
        if fault == "429":
            reset = int(time.time()) + max(1, math.ceil(s.retry_after))
            return sn_error(429, "Rate limit exceeded", "Rate limit of 100 requests per hour for Table API exceeded",
                            {"Retry-After": f"{s.retry_after:g}", "X-RateLimit-Limit": "100",
                             "X-RateLimit-Reset": str(reset), "X-RateLimit-Rule": "b2c3d4e5f60718293a4b5c6d7e8f9001"})
        if fault == "5xx":
            return Response("<html><body><h1>503 Service Unavailable</h1></body></html>", status_code=503,
                            media_type="text/html")
        with emu.lock:
            self.apply(table, row, body, user)
            rendered = self._render(request, table, row)
        if fault == "status":
            return Response("<html><body><h1>504 Gateway Time-out</h1></body></html>", status_code=504,
                            media_type="text/html")
        if fault == "disconnect":
            return _Dropped()
        if request.headers.get("x-no-response-body", "").lower() == "true":
            return Response(b"", status_code=s.no_response_body_status)
        return JSONResponse({"result": rendered}, media_type=JSON_TYPE)

    def _render(self, request: Request, table: str, row: dict[str, str]) -> dict[str, Any]:
        q = request.query_params
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f] or None
        base = f"{request.url.scheme}://{request.url.netloc}"
        out = render(self.emu, table, row, fields, q.get("sysparm_display_value", "false").lower(),
                     q.get("sysparm_exclude_reference_link", "false").lower() == "true", base)
        if fields is None:  # journal fields are part of the record, always read back empty
            cls = row.get("sys_class_name") or table
            for name, col in sn_schema.columns(cls if cls in sn_schema.TABLES else table).items():
                if col.type == JOURNAL:
                    out[name] = ""
        return out

    # --- settings and inspection (outside /api) ---------------------------------------------

    def set_settings(self, patch: dict) -> WriteSettings:
        self.settings = WriteSettings.model_validate({**self.settings.model_dump(), **patch})
        self.roller.reset(self.settings.seed)
        return self.settings

    def journal(self, sys_id: str, element: str = "work_notes") -> list[dict[str, str]]:
        with self.emu.lock:
            rows = [r for r in self.emu.tables.get("sys_journal_field", {}).values()
                    if r["element_id"] == sys_id and r["element"] == element]
        return rows  # insertion order: sys_created_on has one-second resolution

    def routes(self, guarded) -> list[Route]:
        async def settings(request: Request) -> Response:
            if request.method == "PUT":
                self.set_settings(await request.json())
            return JSONResponse(self.settings.model_dump())

        async def users(request: Request) -> Response:
            body = await request.json()
            self.users[body["user_name"]] = body["password"]
            if "roles" in body:
                self.set_settings({"roles": {**self.settings.roles, body["user_name"]: list(body["roles"])}})
            return JSONResponse({"user_name": body["user_name"], "roles": self.roles_of(body["user_name"])},
                                status_code=201)

        methods = ["PATCH", "PUT"]
        return [
            Route("/api/now/table/{table}/{sys_id}", guarded(self.write), methods=methods),
            Route("/api/now/{version:str}/table/{table}/{sys_id}", guarded(self.write), methods=methods),
            Route("/_emulator/writes", settings, methods=["GET", "PUT"]),
            Route("/_emulator/users", users, methods=["POST"]),
        ]
