"""HTTP layer of the ServiceNow emulator (servicenow.md "Emulator checklist")."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connector.emulators import sn_acl, sn_query, sn_schema
from connector.emulators.faults import FaultRoller
from connector.emulators.sn_dataset import Blob, Dataset
from connector.emulators.sn_writes import TableWrites

JSON_TYPE = "application/json;charset=UTF-8"
CANCELLED = "Transaction cancelled: maximum execution time exceeded"


class ServiceNowFaults(BaseModel):
    """Settable at start (CLI) and at run time (``PUT /_emulator/faults``); seeded."""

    seed: int = 0
    latency_ms: float = 0.0
    rate_429: float = 0.0  # rate-limit rule hit: Retry-After + X-RateLimit-* headers
    rate_429_bare: float = 0.0  # semaphore queue full: 429 without rate headers
    retry_after: float = 1.0
    rate_truncated: float = 0.0  # 200 whose body is cut and ends with the cancel error
    rate_500: float = 0.0  # 500 "Transaction cancelled"
    rate_5xx: float = 0.0  # 502/503 from the load balancer
    rate_202: float = 0.0  # request not processed (session queue overflow)
    rate_null: float = 0.0  # 200 with a JSON null body
    rate_html: float = 0.0  # 200 text/html (login page / hibernating instance)
    html_always: bool = False
    quota_budget: int | None = None  # sysparm_limit x fields over this -> transaction cancelled
    quota_mode: Literal["truncated", "500"] = "truncated"
    acl_hide_rate: float = 0.0  # rows hidden by row ACLs, applied after limit/offset
    unstable_order: bool = True  # without ORDERBY, every request sees another order
    invalid_query_returns_no_rows: bool = False
    path_filter: str | None = None
    # OAuth as real instances configure it (servicenow.md §3.2): lifetimes down to a few seconds,
    # refresh tokens that expire and rotate, and a token endpoint that is slow or refuses under load.
    token_ttl: float | None = None  # access-token lifetime in seconds (overrides --token-ttl)
    refresh_token_ttl: float | None = None  # refresh tokens die after this (instance default: 100 days)
    rotate_refresh_tokens: bool = False  # a refresh grant answers a new refresh token; the old one dies
    token_latency_ms: float = 0.0
    token_rate_429: float = 0.0
    token_rate_5xx: float = 0.0
    # Read ACLs of the integration user (sn_acl.py): tables it may not read (403), fields it may not see.
    denied_tables: list[str] = []
    hidden_fields: list[str] = []  # "table.field", left out of every record of that table


def sn_error(status: int, message: str, detail: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                        status_code=status, headers=headers, media_type=JSON_TYPE)


def now_str() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class ServiceNowEmulator:
    def __init__(self, dataset: Dataset, *, username: str, password: str, client_id: str | None = None,
                 client_secret: str | None = None, token_ttl: int = 1800, faults: ServiceNowFaults | None = None,
                 display_tz: str = "America/Los_Angeles") -> None:
        self.ds = dataset
        self.tables = dataset.tables
        self.blobs: dict[str, Blob] = dataset.blobs
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl = token_ttl
        self.display_tz = ZoneInfo(display_tz)
        self.faults = faults or ServiceNowFaults()
        self.roller = FaultRoller(self.faults.seed)
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, float] = {}  # refresh token -> expiry (epoch seconds)
        self.token_grants: list[dict[str, Any]] = []  # every answer of /oauth_token.do, for tests and figures
        self.sessions: dict[str, int] = {}
        self.lock = threading.RLock()
        self.log: list[dict] = []
        self._shuffle = random.Random(self.faults.seed)
        self._build_schema_tables()
        self.writes = TableWrites(self)  # PATCH/PUT, journals, write ACLs and faults (sn_writes.py)
        self.app = Starlette(routes=self._routes())

    # --- schema -----------------------------------------------------------------------------

    def _build_schema_tables(self) -> None:
        objs = self.tables.setdefault("sys_db_object", {})
        dic = self.tables.setdefault("sys_dictionary", {})
        ids = {name: hashlib.sha1(f"dbo|{name}".encode()).hexdigest()[:32] for name in sn_schema.TABLES}
        stamp = {"sys_created_on": "2024-01-01 00:00:00", "sys_updated_on": "2024-01-01 00:00:00",
                 "sys_created_by": "system", "sys_updated_by": "system", "sys_mod_count": "0"}
        for name, (label, parent, own) in sn_schema.TABLES.items():
            objs[ids[name]] = {"sys_id": ids[name], "name": name, "label": label,
                               "super_class": ids[parent] if parent else "", "sys_class_name": "sys_db_object", **stamp}
            cols = dict(own)
            if parent is None:
                cols = {**sn_schema.SYS_COLS, **own}
            for element, col in cols.items():
                sid = hashlib.sha1(f"dict|{name}|{element}".encode()).hexdigest()[:32]
                dic[sid] = {"sys_id": sid, "name": name, "element": element, "internal_type": col.type,
                            "reference": col.reference or "", "max_length": str(col.max_length),
                            "column_label": element.replace("_", " ").title(), "sys_class_name": "sys_dictionary", **stamp}

    def table_types(self, table: str) -> dict[str, str]:
        return {k: c.type for k, c in sn_schema.columns(table).items()}

    def rows_of(self, table: str) -> list[dict[str, str]]:
        """A parent-table query returns the rows of every subclass too (sys_user -> vm_vdr_contact)."""
        out: list[dict[str, str]] = []
        for t in sn_schema.subclasses(table):
            out.extend(self.tables.get(t, {}).values())
        return out

    # --- rendering --------------------------------------------------------------------------

    def _display(self, col: sn_schema.Col, value: str) -> str:
        if value == "":
            return ""
        if col.type == "glide_date_time":
            dt = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).astimezone(self.display_tz)
            return dt.strftime("%m/%d/%Y %I:%M:%S %p")
        if col.type == "choice":
            return value.replace("_", " ").capitalize()
        if col.type == "glide_list" and col.reference:
            return ", ".join(self._ref_display(col.reference, v) for v in value.split(",") if v)
        return value

    def _ref_display(self, table: str, sys_id: str) -> str:
        for t in sn_schema.subclasses(table):
            row = self.tables.get(t, {}).get(sys_id)
            if row:
                return row.get(sn_schema.display_field(t), "")
        return ""

    def render(self, table: str, row: dict[str, str], fields: list[str] | None, display_value: str,
               exclude_link: bool, base: str) -> dict[str, Any]:
        cls = row.get("sys_class_name") or table
        cols = sn_schema.columns(cls if cls in sn_schema.TABLES else table)
        out: dict[str, Any] = {}
        names = sn_acl.visible(self.faults, table, fields or [c for c in cols if c in row or c in sn_schema.SYS_COLS])
        for f in names:
            if "." in f:  # one level of dot-walking: company.name
                ref, _, sub = f.partition(".")
                col = cols.get(ref)
                if col is None or col.type != "reference" or not row.get(ref):
                    continue
                target = self._find(col.reference, row[ref])
                if target is not None and sub in target:
                    out[f] = target[sub] if display_value == "false" else (
                        {"display_value": target[sub], "value": target[sub]} if display_value == "all" else target[sub])
                continue
            col = cols.get(f)
            if col is None:
                continue  # unknown fields in sysparm_fields are ignored, like the real API
            v = row.get(f, "")
            if col.type == "reference":
                if v == "":
                    out[f] = {"display_value": "", "value": ""} if display_value == "all" else ""
                    continue
                link = f"{base}/api/now/table/{col.reference}/{v}"
                dv = self._ref_display(col.reference, v)
                if display_value == "false":
                    out[f] = v if exclude_link else {"link": link, "value": v}
                elif display_value == "true":
                    out[f] = dv if exclude_link else {"display_value": dv, "link": link}
                else:
                    out[f] = {"display_value": dv, "value": v} if exclude_link else {"display_value": dv, "link": link, "value": v}
            elif display_value == "false":
                out[f] = v
            elif display_value == "true":
                out[f] = self._display(col, v)
            else:
                out[f] = {"display_value": self._display(col, v), "value": v}
        return out

    def _find(self, table: str, sys_id: str) -> dict[str, str] | None:
        for t in sn_schema.subclasses(table):
            row = self.tables.get(t, {}).get(sys_id)
            if row is not None:
                return row
        return None

    # --- auth, sessions, faults -------------------------------------------------------------

    def _auth_ok(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return (secrets.compare_digest(user, self.username) and secrets.compare_digest(pw, self.password)) \
                or self.writes.authenticates(user, pw)
        if auth.lower().startswith("bearer "):
            exp = self.tokens.get(auth[7:].strip())
            return exp is not None and exp > time.time()
        return False

    def _fault(self, request: Request) -> dict[str, Any]:
        f = self.faults
        rates = (f.rate_429, f.rate_429_bare, f.rate_5xx, f.rate_202, f.rate_null, f.rate_html, f.rate_truncated,
                 f.rate_500)
        if not any(rates) and not f.html_always:
            return {"delay": f.latency_ms / 1000.0}  # nothing random to decide: skip the seeded draw
        path = request.url.path
        if f.path_filter and not re.search(f.path_filter, path):
            return {}
        rng = self.roller.rng_for(request.method, path, request.url.query)
        out: dict[str, Any] = {"delay": f.latency_ms / 1000.0}
        checks = [("429", f.rate_429), ("429bare", f.rate_429_bare), ("5xx", f.rate_5xx), ("202", f.rate_202),
                  ("null", f.rate_null), ("html", f.rate_html), ("truncated", f.rate_truncated), ("500", f.rate_500)]
        for name, rate in checks:
            if rate and rng.random() < rate:
                out["kind"] = name
                out["rng"] = rng
                break
        if f.html_always:
            out["kind"] = "html"
        return out

    def _fault_response(self, kind: str, rng: random.Random) -> Response:
        f = self.faults
        if kind == "429":
            reset = int(time.time()) + max(1, int(f.retry_after + 0.999))
            return sn_error(429, "Rate limit exceeded", "Rate limit of 100 requests per hour for Table API exceeded",
                            {"Retry-After": f"{f.retry_after:g}", "X-RateLimit-Limit": "100",
                             "X-RateLimit-Reset": str(reset), "X-RateLimit-Rule": "a1b2c3d4e5f60718293a4b5c6d7e8f90"})
        if kind == "429bare":
            return sn_error(429, "Maximum number of queued transactions exceeded", None)
        if kind == "5xx":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=rng.choice([502, 503]),
                            media_type="text/html")
        if kind == "202":
            return Response(b"", status_code=202)
        if kind == "null":
            return Response(b"null", status_code=200, media_type=JSON_TYPE)
        if kind == "html":
            return Response("<html><head><title>Instance Hibernating page</title></head><body>Your instance is "
                            "hibernating. Log in to wake it up.</body></html>", status_code=200, media_type="text/html")
        if kind == "500":
            return sn_error(500, CANCELLED, "Check logs for error trace or enable glide.rest.debug property to verify REST request processing")
        return self._truncated(b'{"result":[{"sys_id":"0123')

    @staticmethod
    def _truncated(prefix: bytes) -> Response:
        tail = json.dumps({"error": {"message": CANCELLED, "detail": "Check logs for error trace"}, "status": "failure"})
        return Response(prefix + tail.encode(), status_code=200, media_type=JSON_TYPE)

    def guarded(self, handler, *, api: bool = True):
        """Auth, session-cookie queueing (202), seeded faults and the request log around a handler."""

        async def endpoint(request: Request) -> Response:
            entry = {"ts": time.time(), "method": request.method, "path": request.url.path,
                     "query": dict(request.query_params), "status": None, "fault": None}
            self.log.append(entry)
            session = request.cookies.get("JSESSIONID")
            if session and self.sessions.get(session, 0) > 0:
                # Another request of this session is still running: ServiceNow queues it and, past
                # the queue limit, answers 202 without processing (servicenow.md §1.6).
                entry.update(status=202, fault="shared-session")
                return Response(b"", status_code=202)
            session = session or secrets.token_hex(16)
            self.sessions[session] = self.sessions.get(session, 0) + 1
            try:
                if not self._auth_ok(request):
                    resp = sn_error(401, "User Not Authenticated", "Required to provide Auth information")
                else:
                    fault = self._fault(request) if api else {}
                    if fault.get("delay"):
                        await asyncio.sleep(fault["delay"])
                    if fault.get("kind"):
                        entry["fault"] = fault["kind"]
                        resp = self._fault_response(fault["kind"], fault.get("rng") or random.Random(0))
                    else:
                        resp = await handler(request)
                resp.set_cookie("JSESSIONID", session, httponly=True)
                entry["status"] = resp.status_code
                return resp
            finally:
                self.sessions[session] -= 1

        return endpoint

    # --- Table API --------------------------------------------------------------------------

    def _paging(self, request: Request, default_limit: int) -> tuple[int, int] | Response:
        q = request.query_params
        try:
            limit = int(q.get("sysparm_limit", default_limit))
            offset = int(q.get("sysparm_offset", 0))
        except ValueError:
            return sn_error(400, "Invalid value given for sysparm_limit or sysparm_offset")
        if limit <= 0:
            return sn_error(400, "Invalid value given for sysparm_limit", "sysparm_limit value must be a positive integer")
        if offset < 0:
            return sn_error(400, "Invalid value given for sysparm_offset")
        return limit, offset

    def _select(self, table: str, request: Request, default_limit: int, *, include_hidden: bool = False):
        q = request.query_params
        paging = self._paging(request, default_limit)
        if isinstance(paging, Response):
            return paging
        limit, offset = paging
        types = self.table_types(table)
        query = sn_query.parse(q.get("sysparm_query", ""), set(types))
        match = sn_query.matcher(query, types, self.faults.invalid_query_returns_no_rows)
        with self.lock:
            rows = [r for r in self.rows_of(table) if match(r)]
        if table == "sys_attachment" and not include_hidden and "ZZ_YY" not in q.get("sysparm_query", ""):
            rows = [r for r in rows if not r.get("table_name", "").startswith("ZZ_YY")]
        if query.order:
            rows.sort(key=sn_query.sort_key(query.order, types))
        elif self.faults.unstable_order:
            self._shuffle.shuffle(rows)  # no ORDERBY, no promise: missing tie-breaks show up
        total = len(rows)
        page = rows[offset: offset + limit]
        if self.faults.acl_hide_rate:
            rate = self.faults.acl_hide_rate
            page = [r for r in page if int(hashlib.md5(r["sys_id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF >= rate]
        return page, total, limit, offset

    def _headers(self, request: Request, total: int, limit: int, offset: int) -> dict[str, str]:
        q = request.query_params
        headers: dict[str, str] = {}
        if q.get("sysparm_no_count", "false") != "true":
            headers["X-Total-Count"] = str(total)
        if q.get("sysparm_suppress_pagination_header", "false") != "true":
            base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            params = dict(q)

            def link(off: int, rel: str) -> str:
                return f'<{base}?{urlencode({**params, "sysparm_offset": off, "sysparm_limit": limit})}>;rel="{rel}"'

            parts = [link(0, "first")]
            if offset > 0:
                parts.append(link(max(0, offset - limit), "prev"))
            if offset + limit < total:
                parts.append(link(offset + limit, "next"))
            parts.append(link(max(0, ((total - 1) // limit) * limit) if total else 0, "last"))
            headers["Link"] = ",".join(parts)
        return headers

    async def table_list(self, request: Request) -> Response:
        table = request.path_params["table"]
        version = request.path_params.get("version", "v2")
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        if (acl := sn_acl.denied(self.faults, table)) is not None:
            return acl
        q = request.query_params
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f] or None
        budget = self.faults.quota_budget
        limit_req = int(q.get("sysparm_limit", 10000) or 10000)
        if budget and limit_req * len(fields or sn_schema.columns(table)) > budget:
            if self.faults.quota_mode == "500":
                return sn_error(500, CANCELLED, "Check logs for error trace or enable glide.rest.debug property")
            return self._truncated(b'{"result":[{"sys_id":"')
        sel = self._select(table, request, 10000)
        if isinstance(sel, Response):
            return sel
        page, total, limit, offset = sel
        if version == "v1" and not page and total == 0:
            return sn_error(404, "No Record found", "Records matching query not found. Check query parameter or offset parameter")
        base = f"{request.url.scheme}://{request.url.netloc}"
        dv = q.get("sysparm_display_value", "false").lower()
        excl = q.get("sysparm_exclude_reference_link", "false").lower() == "true"
        body = {"result": [self.render(table, r, fields, dv, excl, base) for r in page]}
        return JSONResponse(body, headers=self._headers(request, total, limit, offset), media_type=JSON_TYPE)

    async def table_get(self, request: Request) -> Response:
        table = request.path_params["table"]
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        if (acl := sn_acl.denied(self.faults, table)) is not None:
            return acl
        with self.lock:
            row = self._find(table, request.path_params["sys_id"])
        if row is None or self.writes.hidden(request.path_params["sys_id"]):
            return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        q = request.query_params
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f] or None
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"result": self.render(table, row, fields, q.get("sysparm_display_value", "false").lower(),
                                                   q.get("sysparm_exclude_reference_link", "false") == "true", base)},
                            media_type=JSON_TYPE)

    async def stats(self, request: Request) -> Response:
        table = request.path_params["table"]
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        if (acl := sn_acl.denied(self.faults, table)) is not None:
            return acl
        types = self.table_types(table)
        query = sn_query.parse(request.query_params.get("sysparm_query", ""), set(types))
        match = sn_query.matcher(query, types, self.faults.invalid_query_returns_no_rows)
        with self.lock:
            count = sum(1 for r in self.rows_of(table) if match(r))
        return JSONResponse({"result": {"stats": {"count": str(count)}}}, media_type=JSON_TYPE)

    # --- Attachment API ---------------------------------------------------------------------

    def attachment_meta(self, row: dict[str, str], base: str) -> dict[str, str]:
        out = {k: v for k, v in row.items() if k != "sys_class_name"}
        out["download_link"] = f"{base}/api/now/attachment/{row['sys_id']}/file"
        return out

    async def attachment_list(self, request: Request) -> Response:
        if (acl := sn_acl.denied(self.faults, "sys_attachment")) is not None:
            return acl
        sel = self._select("sys_attachment", request, 1000)
        if isinstance(sel, Response):
            return sel
        page, total, limit, offset = sel
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"result": [self.attachment_meta(r, base) for r in page]},
                            headers=self._headers(request, total, limit, offset), media_type=JSON_TYPE)

    async def attachment_get(self, request: Request) -> Response:
        if (acl := sn_acl.denied(self.faults, "sys_attachment")) is not None:
            return acl
        with self.lock:
            row = self.tables["sys_attachment"].get(request.path_params["sys_id"])
        if row is None:
            return sn_error(404, "Record doesn't exist or ACL restricts the record retrieval", None)
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"result": self.attachment_meta(row, base)}, media_type=JSON_TYPE)

    async def attachment_file(self, request: Request) -> Response:
        if (acl := sn_acl.denied(self.faults, "sys_attachment")) is not None:
            return acl
        sid = request.path_params["sys_id"]
        with self.lock:
            row = self.tables["sys_attachment"].get(sid)
            blob = self.blobs.get(sid)
        if row is None or blob is None:
            return sn_error(404, "Record doesn't exist or ACL restricts the record retrieval", None)
        base = f"{request.url.scheme}://{request.url.netloc}"
        meta = json.dumps(self.attachment_meta(row, base), ensure_ascii=True)
        return StreamingResponse(blob.chunks(), media_type=row.get("content_type") or "application/octet-stream",
                                 headers={"X-Attachment-Metadata": meta, "Content-Length": row["size_bytes"]})

    # --- OAuth ------------------------------------------------------------------------------

    async def oauth_token(self, request: Request) -> Response:
        f = self.faults
        grant = "?"
        entry: dict[str, Any] = {"ts": time.time(), "grant": grant, "status": None, "fault": None}
        self.token_grants.append(entry)
        if f.token_latency_ms:
            await asyncio.sleep(f.token_latency_ms / 1000.0)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            entry["status"] = 401
            return JSONResponse({"error": "server_error", "error_description": "access_denied"}, status_code=401)
        form = await request.form()
        grant = entry["grant"] = str(form.get("grant_type"))
        if f.token_rate_429 or f.token_rate_5xx:
            rng = self.roller.rng_for("POST", "/oauth_token.do", grant)
            if f.token_rate_429 and rng.random() < f.token_rate_429:
                entry.update(status=429, fault="429")
                return sn_error(429, "Rate limit exceeded", "Too many token requests",
                                {"Retry-After": f"{f.retry_after:g}"})
            if f.token_rate_5xx and rng.random() < f.token_rate_5xx:
                entry.update(status=503, fault="5xx")
                return Response("<html><body><h1>503 Service Unavailable</h1></body></html>", status_code=503,
                                media_type="text/html")
        denied = JSONResponse({"error": "server_error", "error_description": "access_denied"}, status_code=401)
        entry["status"] = 401
        if not self.client_id or form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return denied
        now = time.time()
        with self.lock:
            if grant == "password":
                if form.get("username") != self.username or form.get("password") != self.password:
                    return denied
            elif grant == "refresh_token":
                old = str(form.get("refresh_token"))
                if self.refresh_tokens.get(old, 0) <= now:
                    entry["fault"] = "refresh-token-invalid"
                    return denied
                if f.rotate_refresh_tokens:
                    self.refresh_tokens.pop(old, None)
            elif grant != "client_credentials":
                entry["status"] = 400
                return JSONResponse({"error": "unsupported_grant_type", "error_description": grant}, status_code=400)
            ttl = f.token_ttl if f.token_ttl is not None else self.token_ttl
            token = secrets.token_urlsafe(24)
            self.tokens[token] = now + ttl
            body: dict[str, Any] = {"access_token": token, "scope": "useraccount", "token_type": "Bearer",
                                    # ServiceNow answers whole seconds; a test lifetime below one stays 1
                                    "expires_in": max(1, int(round(ttl)))}
            if grant == "password" or (grant == "refresh_token" and f.rotate_refresh_tokens):
                refresh = secrets.token_urlsafe(24)
                self.refresh_tokens[refresh] = now + (f.refresh_token_ttl if f.refresh_token_ttl is not None
                                                      else 8_640_000)
                body["refresh_token"] = refresh
        entry["status"] = 200
        return JSONResponse(body)

    # --- admin (outside /api): mutate between runs ------------------------------------------

    def insert(self, table: str, fields: dict[str, str]) -> dict[str, str]:
        with self.lock:
            sid = fields.get("sys_id") or secrets.token_hex(16)
            ts = now_str()
            row = {"sys_id": sid, "sys_created_on": ts, "sys_created_by": "admin", "sys_updated_on": ts,
                   "sys_updated_by": "admin", "sys_mod_count": "0", "sys_class_name": table}
            row.update({k: str(v) for k, v in fields.items()})
            self.tables.setdefault(table, {})[sid] = row
            return row

    def update(self, table: str, sys_id: str, fields: dict[str, str]) -> dict[str, str] | None:
        with self.lock:
            row = self._find(table, sys_id)
            if row is None:
                return None
            row.update({k: str(v) for k, v in fields.items()})
            if "sys_updated_on" not in fields:
                row["sys_updated_on"] = now_str()
            row["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)
            return row

    def delete(self, table: str, sys_id: str) -> bool:
        with self.lock:
            for t in sn_schema.subclasses(table):
                row = self.tables.get(t, {}).pop(sys_id, None)
                if row is not None:
                    self.blobs.pop(sys_id, None)
                    self.insert("sys_audit_delete", {"tablename": row.get("sys_class_name", t), "documentkey": sys_id,
                                                     "display_value": row.get(sn_schema.display_field(t), ""),
                                                     "payload": "<xml/>"})
                    return True
            return False

    def add_attachment(self, table_name: str, table_sys_id: str, file_name: str, content: bytes,
                       content_type: str = "application/octet-stream", sys_id: str | None = None) -> dict[str, str]:
        row = self.insert("sys_attachment", {
            "sys_id": sys_id or secrets.token_hex(16), "file_name": file_name, "content_type": content_type,
            "size_bytes": str(len(content)), "size_compressed": str(len(content)), "compressed": "false",
            "table_name": table_name, "table_sys_id": table_sys_id, "hash": hashlib.sha256(content).hexdigest(),
            "state": "available", "chunk_size_bytes": "700000", "average_image_color": "", "image_width": "",
            "image_height": "", "sys_tags": ""})
        self.blobs[row["sys_id"]] = Blob(content=content)
        return row

    def set_faults(self, patch: dict) -> ServiceNowFaults:
        self.faults = ServiceNowFaults.model_validate({**self.faults.model_dump(), **patch})
        self.roller.reset(self.faults.seed)
        return self.faults

    def _admin_routes(self) -> list[Route]:
        async def records(request: Request) -> Response:
            table = request.path_params["table"]
            sid = request.path_params.get("sys_id")
            if request.method == "POST":
                return JSONResponse(self.insert(table, await request.json()), status_code=201)
            if request.method == "PATCH":
                row = self.update(table, sid, await request.json())
                return JSONResponse(row) if row else JSONResponse({"error": "no such record"}, status_code=404)
            return JSONResponse({"deleted": self.delete(table, sid)})

        async def attachments(request: Request) -> Response:
            body = await request.json()
            if body.get("stream_size"):  # a large file produced as a stream, never held in memory
                blob = Blob(stream_size=int(body["stream_size"]), stream_seed=int(body.get("stream_seed", 1)),
                            stream_kind=body.get("stream_kind", "random"))
                digest = hashlib.sha256()
                for chunk in blob.chunks():
                    digest.update(chunk)
                row = self.add_attachment(body["table_name"], body["table_sys_id"], body["file_name"], b"",
                                          body.get("content_type", "application/octet-stream"), body.get("sys_id"))
                self.update("sys_attachment", row["sys_id"], {"size_bytes": str(blob.stream_size),
                                                              "hash": digest.hexdigest()})
                self.blobs[row["sys_id"]] = blob
                return JSONResponse(self.tables["sys_attachment"][row["sys_id"]], status_code=201)
            content = base64.b64decode(body.get("content_b64", ""))
            return JSONResponse(self.add_attachment(body["table_name"], body["table_sys_id"], body["file_name"],
                                                    content, body.get("content_type", "application/octet-stream"),
                                                    body.get("sys_id")), status_code=201)

        async def faults(request: Request) -> Response:
            if request.method == "PUT":
                self.set_faults(await request.json())
            return JSONResponse(self.faults.model_dump())

        async def requests_log(request: Request) -> Response:
            since = int(request.query_params.get("since", 0))
            return JSONResponse({"count": len(self.log), "items": self.log[since:]})

        async def expire_tokens(request: Request) -> Response:
            with self.lock:
                for t in self.tokens:
                    self.tokens[t] = 0
                if request.query_params.get("refresh", "false") == "true":  # revoke refresh tokens too
                    for t in self.refresh_tokens:
                        self.refresh_tokens[t] = 0
            return JSONResponse({"expired": len(self.tokens)})

        async def token_grants(request: Request) -> Response:
            return JSONResponse({"items": self.token_grants})

        async def credentials(request: Request) -> Response:
            body = await request.json()
            self.password = body.get("password", self.password)
            self.client_secret = body.get("client_secret", self.client_secret)
            return JSONResponse({"ok": True})

        async def dirty(request: Request) -> Response:
            return JSONResponse([c.__dict__ for c in self.ds.dirty])

        return [
            Route("/_emulator/records/{table}", records, methods=["POST"]),
            Route("/_emulator/records/{table}/{sys_id}", records, methods=["PATCH", "DELETE"]),
            Route("/_emulator/attachments", attachments, methods=["POST"]),
            Route("/_emulator/faults", faults, methods=["GET", "PUT"]),
            Route("/_emulator/requests", requests_log),
            Route("/_emulator/tokens/expire", expire_tokens, methods=["POST"]),
            Route("/_emulator/tokens/grants", token_grants),
            Route("/_emulator/credentials", credentials, methods=["POST"]),
            Route("/_emulator/dirty_cases", dirty),
        ]

    def _routes(self) -> list[Route]:
        g = self.guarded
        return [
            Route("/api/now/table/{table}", g(self.table_list)),
            Route("/api/now/{version:str}/table/{table}", g(self.table_list)),
            Route("/api/now/table/{table}/{sys_id}", g(self.table_get)),
            Route("/api/now/{version:str}/table/{table}/{sys_id}", g(self.table_get)),
            Route("/api/now/stats/{table}", g(self.stats)),
            Route("/api/now/attachment", g(self.attachment_list)),
            Route("/api/now/{version:str}/attachment", g(self.attachment_list)),
            Route("/api/now/attachment/{sys_id}", g(self.attachment_get)),
            Route("/api/now/{version:str}/attachment/{sys_id}", g(self.attachment_get)),
            Route("/api/now/attachment/{sys_id}/file", g(self.attachment_file)),
            Route("/api/now/{version:str}/attachment/{sys_id}/file", g(self.attachment_file)),
            Route("/oauth_token.do", self.oauth_token, methods=["POST"]),
            *self.writes.routes(g),
            *self._admin_routes(),
        ]
