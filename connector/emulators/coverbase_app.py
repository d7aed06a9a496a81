"""HTTP layer of the Coverbase emulator: auth, faults, idempotency, request log, routes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connector.emulators import fixtures
from connector.emulators.coverbase_findings import routes as findings_routes
from connector.emulators.coverbase_progress import AssessmentProgress
from connector.emulators.coverbase_errors import ApiProblem, coded, invalid
from connector.emulators.coverbase_store import CoverbaseStore
from connector.emulators.coverbase_webhooks import WebhookHub
from connector.emulators.faults import FaultRoller, TokenBucket
from connector.emulators.multipart_stream import MultipartError, parse_stream

DROP_MARKER = "emulated ambiguous write"


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return DROP_MARKER not in str(exc or "")


logging.getLogger("uvicorn.error").addFilter(_DropFilter())


class CoverbaseFaults(BaseModel):
    """Settable at start (CLI) and at run time (``PUT /_emulator/faults``)."""

    seed: int = 0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_spike_rate: float = 0.0
    latency_spike_ms: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    statuses_5xx: list[int] = Field(default_factory=lambda: [500, 502, 503, 504])
    rps_limit: float | None = None
    rate_ambiguous: float = 0.0
    ambiguous_mode: Literal["status", "disconnect", "mixed"] = "mixed"
    path_filter: str | None = None  # regex: faults only on matching paths
    # The server stops answering: after this many /v1 requests every later one is accepted and
    # never answered (until the setting is cleared). What a hung backend looks like to a client.
    hang_after: int | None = None
    # Strings longer than this in a JSON body get FastAPI's 422 string_too_long (a model's
    # max_length): Coverbase documents no limits, a real deployment may well have some.
    max_string_length: int | None = None
    # regex: the first write of each distinct request (method, path, query, body) to a matching path is
    # committed, then answered ambiguously (504 or a dropped connection; ``ambiguous_mode``)
    ambiguous_first_paths: str | None = None


class DroppedResponse(Response):
    """Start a response, then drop the connection: the client sees no complete answer."""

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[override]
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"id": "cb', "more_body": True})
        raise ConnectionAbortedError(DROP_MARKER)


@dataclass
class Ctx:
    request: Request
    org: Any
    body: Any
    store: CoverbaseStore


Handler = Callable[[Ctx], Awaitable[tuple[int, Any]]]


def _limit(request: Request, default: int = 50, hi: int = 200) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", default))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        raise invalid((["query", "limit"], "Input should be a valid integer", "int_parsing")) from None
    if not 1 <= limit <= hi:
        raise invalid((["query", "limit"], f"Input should be between 1 and {hi}", "less_than_equal"
                       if limit > hi else "greater_than_equal"))
    if offset < 0:
        raise invalid((["query", "offset"], "Input should be greater than or equal to 0", "greater_than_equal"))
    return limit, offset


def _page(rows: list, request: Request, *, key: str = "items", total_key: str = "total", hi: int = 200,
          default: int = 50, with_paging: bool = True) -> dict:
    limit, offset = _limit(request, default, hi)
    out = {key: rows[offset: offset + limit], total_key: len(rows)}
    if with_paging:
        out.update(limit=limit, offset=offset)
    return out


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")


class CoverbaseEmulator:
    def __init__(self, api_keys: list[str], *, foreign_api_key: str | None = None,
                 faults: CoverbaseFaults | None = None, bom_entitled: bool = True,
                 idempotency_scope: str = "path", findings_text: bool = False) -> None:
        self.store = CoverbaseStore({}, idempotency_scope=idempotency_scope)
        self.store.finding_rules.include_text = findings_text  # title/body are not in the documented object
        self._written: set[tuple] = set()  # write fingerprints seen (ambiguous_first_paths)
        main, foreign = list(self.store.orgs)
        for key in api_keys:
            self.store.api_keys[key] = main
        if foreign_api_key:
            self.store.api_keys[foreign_api_key] = foreign
        self.store.main_org.bom_entitled = bom_entitled
        self.faults = faults or CoverbaseFaults()
        self.roller = FaultRoller(self.faults.seed)
        self.bucket = TokenBucket(self.faults.rps_limit) if self.faults.rps_limit else None
        self.log: list[dict] = []
        self._api_requests = 0
        # Webhook subscriptions/deliveries, and assessments moving over virtual time (their own modules).
        self.webhooks = WebhookHub(self.store)
        self.progress = AssessmentProgress(self.store, self.webhooks.emit)
        self.app = Starlette(routes=self._routes())

    # --- faults -----------------------------------------------------------------------------

    def set_faults(self, patch: dict) -> CoverbaseFaults:
        self.faults = self.faults.model_copy(update=CoverbaseFaults.model_validate(
            {**self.faults.model_dump(), **patch}).model_dump())
        self.roller.reset(self.faults.seed)
        self._written.clear()
        self.bucket = TokenBucket(self.faults.rps_limit) if self.faults.rps_limit else None
        return self.faults

    def _decide(self, request: Request, raw: bytes) -> dict:
        f = self.faults
        if not (f.rate_429 or f.rate_5xx or f.rate_ambiguous or f.latency_jitter_ms or f.latency_spike_rate
                or f.ambiguous_first_paths):
            return {"delay": f.latency_ms / 1000.0}  # nothing random to decide: skip the seeded draw
        path = request.url.path
        if f.path_filter and not re.search(f.path_filter, path):
            return {}
        rng = self.roller.rng_for(request.method, path, request.url.query,
                                  request.headers.get("idempotency-key", ""), hashlib.sha256(raw).hexdigest())
        out: dict[str, Any] = {}
        delay = f.latency_ms + (rng.uniform(0, f.latency_jitter_ms) if f.latency_jitter_ms else 0.0)
        if f.latency_spike_rate and rng.random() < f.latency_spike_rate:
            delay += f.latency_spike_ms
        out["delay"] = delay / 1000.0
        if f.rate_429 and rng.random() < f.rate_429:
            out["status"] = 429
        elif f.rate_5xx and rng.random() < f.rate_5xx:
            out["status"] = rng.choice(f.statuses_5xx)
        elif request.method != "GET" and f.rate_ambiguous and rng.random() < f.rate_ambiguous:
            mode = f.ambiguous_mode if f.ambiguous_mode != "mixed" else rng.choice(["status", "disconnect"])
            out["ambiguous"] = mode
        if ("status" not in out and "ambiguous" not in out and request.method != "GET" and f.ambiguous_first_paths
                and re.search(f.ambiguous_first_paths, path)):
            fingerprint = (request.method, path, request.url.query, hashlib.sha256(raw).hexdigest())
            with self.store.lock:
                first = fingerprint not in self._written
                self._written.add(fingerprint)
            if first:
                out["ambiguous"] = f.ambiguous_mode if f.ambiguous_mode != "mixed" else \
                    rng.choice(["status", "disconnect"])
        return out

    async def _maybe_hang(self, request: Request, entry: dict) -> None:
        if not request.url.path.startswith("/v1"):
            return
        self._api_requests += 1
        limit = self.faults.hang_after
        if limit is None or self._api_requests <= limit:
            return
        entry["fault"] = "hang"
        for _ in range(36000):  # at most an hour; cleared at once when the setting is removed
            if self.faults.hang_after is None:
                return
            await asyncio.sleep(0.1)

    def _check_lengths(self, body: Any) -> None:
        limit = self.faults.max_string_length
        if limit is None or body is None:
            return

        def walk(value: Any, loc: list) -> None:
            if isinstance(value, str) and len(value) > limit:
                raise invalid((["body", *loc], f"String should have at most {limit} characters", "string_too_long"))
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, [*loc, k])
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, [*loc, i])

        walk(body, [])

    def _rate_limited(self, retry_after: float) -> ApiProblem:
        return ApiProblem(429, {"detail": {"code": "rate_limited", "message": "Rate limit exceeded.",
                                           "retry_after": round(retry_after, 3)}},
                          {"Retry-After": str(max(1, math.ceil(retry_after)))})

    # --- dispatch ---------------------------------------------------------------------------

    def api(self, route: str, handler: Handler, *, idempotent: bool = False, stream_body: bool = False):
        async def endpoint(request: Request) -> Response:
            t0 = time.monotonic()
            key = request.headers.get("idempotency-key")
            entry = {"ts": time.time(), "method": request.method, "path": request.url.path, "route": route,
                     "query": request.url.query, "idempotency_key": key, "status": None, "replayed": False,
                     "fault": None, "org": None}
            self.log.append(entry)
            try:
                auth = request.headers.get("authorization", "")
                token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
                org = self.store.org_for_key(token)
                if org is None:
                    raise ApiProblem(401, {"detail": "Invalid or expired API key."})
                entry["org"] = org.id
                self.progress.tick()
                raw = b"" if stream_body else await request.body()
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise invalid((["body", 0], "JSON decode error", "json_invalid")) from None
                await self._maybe_hang(request, entry)
                self._check_lengths(body)
                fault = self._decide(request, raw)
                if fault.get("delay"):
                    await asyncio.sleep(fault["delay"])
                if self.bucket is not None and request.url.path.startswith("/v1"):
                    wait = self.bucket.take()
                    if wait is not None:
                        entry["fault"] = "rps_limit"
                        raise self._rate_limited(wait)
                if fault.get("status") == 429:
                    entry["fault"] = "429"
                    raise self._rate_limited(self.faults.retry_after)
                if fault.get("status"):
                    entry["fault"] = str(fault["status"])
                    raise coded(fault["status"], "upstream_error", "Injected server error.")
                scope = request.url.path if self.store.idempotency_scope == "path" else route
                if idempotent and key:
                    with self.store.lock:
                        hit = self.store.idem_lookup(org.id, f"{request.method} {scope}", key)
                    if hit is not None:
                        entry.update(status=hit[0], replayed=True)
                        return JSONResponse(hit[1], status_code=hit[0], headers={"Idempotent-Replayed": "true"})
                status, out = await handler(Ctx(request, org, body, self.store))
                if idempotent and key and 200 <= status < 300:
                    with self.store.lock:
                        self.store.idem_store(org.id, f"{request.method} {scope}", key, status, out)
                if fault.get("ambiguous"):
                    entry["fault"] = f"ambiguous-{fault['ambiguous']}"
                    entry["status"] = status
                    if fault["ambiguous"] == "disconnect":
                        return DroppedResponse()
                    return JSONResponse({"detail": {"code": "upstream_timeout", "message": "Gateway timeout."}},
                                        status_code=504)
                entry["status"] = status
                if status == 204:
                    return Response(status_code=204)
                return JSONResponse(out, status_code=status,
                                    headers={"X-Request-Id": f"req_{len(self.log):08d}"})
            except ClientDisconnect:
                entry["status"] = 499  # the client went away mid-request (e.g. a killed sync)
                return Response(status_code=499)
            except ApiProblem as p:
                entry["status"] = p.status
                return JSONResponse(p.body, status_code=p.status,
                                    headers={**p.headers, "X-Request-Id": f"req_{len(self.log):08d}"})
            finally:
                entry["duration_ms"] = round((time.monotonic() - t0) * 1000, 2)

        return Route(route, endpoint, methods=[handler.__name__.split("_")[0].upper()])

    # --- handlers ---------------------------------------------------------------------------
    # Each handler's name starts with its HTTP method; ``api()`` uses that for the route.

    def _routes(self) -> list[Route]:
        s = self.store

        async def get_authtest(c: Ctx):
            return 200, {"msg": "Auth successful"}

        async def post_users(c: Ctx):
            with s.lock:
                return s.create_or_get_user(c.org.id, c.body or {})

        async def get_users(c: Ctx):
            email = c.request.query_params.get("email")
            with s.lock:
                rows = s.list_users(c.org.id, email, _flag(c.request, "include_archived"))
            if email is not None:  # limit/offset ignored with email (contract §2.1)
                return 200, {"items": rows, "total": len(rows), "limit": 50, "offset": 0}
            return 200, _page(rows, c.request)

        async def get_user(c: Ctx):
            with s.lock:
                return 200, s.user_view(s.user_in_org(c.org.id, c.request.path_params["user_id"]))

        async def patch_user(c: Ctx):
            with s.lock:
                return 200, s.patch_user(c.org.id, c.request.path_params["user_id"], c.body or {})

        async def post_vendors(c: Ctx):
            with s.lock:
                return 201, s.create_vendor(c.org, c.body or {})

        async def get_vendors(c: Ctx):
            q = c.request.query_params
            with s.lock:
                rows = s.list_vendors(c.org.id, q.get("name"), q.get("external_id"))
            return 200, _page(rows, c.request)

        async def get_vendor(c: Ctx):
            with s.lock:
                return 200, s.vendor_view(s.vendor_in_org(c.org.id, c.request.path_params["vendor_id"]))

        async def patch_vendor(c: Ctx):
            with s.lock:
                return 200, s.patch_vendor(c.org, c.request.path_params["vendor_id"], c.body or {})

        async def post_services(c: Ctx):
            with s.lock:
                return 201, s.create_service(c.org, c.request.path_params["vendor_id"], c.body or {})

        async def patch_service(c: Ctx):
            p = c.request.path_params
            with s.lock:
                return 200, s.patch_service(c.org, p["vendor_id"], p["service_id"], c.body or {})

        async def post_documents(c: Ctx):
            return await self._upload_document(c)

        async def get_documents(c: Ctx):
            q = c.request.query_params
            with s.lock:
                rows = s.list_documents(c.org.id, q.get("vendor_id"), q.get("service_id"), q.get("assessment_id"))
            return 200, _page(rows, c.request, key="data")

        async def get_document(c: Ctx):
            with s.lock:
                return 200, s.document_view(s.document_in_org(c.org.id, c.request.path_params["document_id"]))

        async def get_document_download(c: Ctx):
            with s.lock:
                d = s.document_in_org(c.org.id, c.request.path_params["document_id"])
            if d["_content"] is None and d["size"]:
                raise coded(409, "document_not_ready", "The document file is not available yet.")
            base = f"{c.request.url.scheme}://{c.request.url.netloc}"
            return 200, {"url": f"{base}/_s3/download/{d['id']}?X-Amz-Signature=emulated",
                         "filename": f"{d['name']}.{d['extension']}" if not d["name"].endswith(f".{d['extension']}")
                         else d["name"], "expires_in": 3600}

        async def patch_document(c: Ctx):
            with s.lock:
                return 200, s.patch_document(c.org.id, c.request.path_params["document_id"], c.body or {})

        async def delete_document(c: Ctx):
            with s.lock:
                return 200, s.archive_document(c.org.id, c.request.path_params["document_id"])

        async def get_uploadable_url(c: Ctx):
            q = c.request.query_params
            with s.lock:
                token, s3_url = s.new_upload_token(c.org.id, q.get("filename", "upload"),
                                                   q.get("content_type", "application/octet-stream"))
            base = f"{c.request.url.scheme}://{c.request.url.netloc}"
            return 200, {"url": f"{base}/_s3/upload/{token}?X-Amz-Signature=emulated", "method": "PUT",
                         "headers": {"Content-Type": q.get("content_type", "application/octet-stream")},
                         "s3_url": s3_url, "expires_in": 900}

        def gate(c: Ctx) -> None:
            if not c.org.bom_entitled:
                raise ApiProblem(404, {"detail": "Not Found"})

        def one_of(c: Ctx) -> tuple[str | None, str | None]:
            q = c.request.query_params
            vid, sid = q.get("vendor_id"), q.get("service_id")
            if (vid is None) == (sid is None):
                raise invalid((["query", "vendor_id"], "Exactly one of vendor_id or service_id must be provided.",
                               "value_error"))
            return vid, sid

        async def post_bom(c: Ctx):
            if not c.org.bom_entitled:
                raise coded(404, "vendor_not_found", "Vendor not found.")
            with s.lock:
                return 200, s.create_bom(c.org, c.body or {})

        async def get_bom_latest(c: Ctx):
            gate(c)
            vid, sid = one_of(c)
            with s.lock:
                rows = s.boms_for(c.org.id, vid, sid, False)
                return 200, (s.bom_view(rows[0], with_components=True) if rows else None)

        async def get_boms(c: Ctx):
            gate(c)
            vid, sid = one_of(c)
            with s.lock:
                rows = [s.bom_view(b, with_components=False) for b in
                        s.boms_for(c.org.id, vid, sid, _flag(c.request, "include_archived"))]
            return 200, _page(rows, c.request, key="data", total_key="total_count", with_paging=False)

        def _components(rows: list[dict], c: Ctx) -> list[dict]:
            q = c.request.query_params
            if q.get("search"):
                needle = q["search"].lower()
                rows = [r for r in rows if needle in (r["name"] or "").lower() or needle in (r.get("purl") or "").lower()]
            if q.get("component_type"):
                rows = [r for r in rows if r["component_type"] == q["component_type"]]
            return rows

        async def get_bom_components_all(c: Ctx):
            gate(c)
            vid = c.request.query_params.get("vendor_id")
            if not vid:
                raise invalid((["query", "vendor_id"], "Field required", "missing"))
            with s.lock:
                rows = []
                for b in s.boms_for(c.org.id, vid, None, True):
                    rows += s.bom_view(b, with_components=True)["components"]
            return 200, _page(_components(rows, c), c.request, key="data", total_key="total_count", with_paging=False)

        async def get_bom(c: Ctx):
            gate(c)
            with s.lock:
                return 200, s.bom_view(s.bom_in_org(c.org.id, c.request.path_params["bom_id"]), with_components=True)

        async def get_bom_components(c: Ctx):
            gate(c)
            with s.lock:
                rows = s.bom_view(s.bom_in_org(c.org.id, c.request.path_params["bom_id"]), with_components=True)["components"]
            return 200, _page(_components(rows, c), c.request, key="data", total_key="total_count", with_paging=False)

        async def post_bom_archive(c: Ctx):
            if not c.org.bom_entitled:
                raise coded(404, "bom_not_found", "Bill of materials not found.")
            with s.lock:
                b = s.bom_in_org(c.org.id, c.request.path_params["bom_id"])
                b["is_archived"] = True
                b["updated_at"] = s.now()
                return 200, s.bom_view(b, with_components=False)

        async def post_assessments(c: Ctx):
            with s.lock:
                return 201, s.create_assessment(c.org, c.body or {})

        async def get_assessment(c: Ctx):
            with s.lock:
                return 200, s.assessment_view(s.assessment_in_org(c.org.id, c.request.path_params["assessment_id"]),
                                              with_run=False)

        async def delete_assessment(c: Ctx):
            with s.lock:
                out = s.archive_assessment(c.org.id, c.request.path_params["assessment_id"])
            self.progress.archived(out["id"])
            return 200, out

        async def post_workflow_run(c: Ctx):
            with s.lock:
                return 201, s.run_workflow(c.org, c.request.path_params["name"], c.body or {})

        async def get_workflow_runs(c: Ctx):
            q = c.request.query_params
            name = q.get("workflow_name")
            if name is not None and name not in c.org.workflows:
                raise coded(404, "workflow_not_found", f"Workflow '{name}' not found.")
            statuses = q.getlist("status")
            with s.lock:
                rows = [r for r in s.workflow_runs.values() if r["org"] == c.org.id
                        and (name is None or r["workflow_name"] == name) and (not statuses or r["status"] in statuses)]
            rows.sort(key=lambda r: -r["_seq"])
            view = [{k: r[k] for k in ("workflow_run_id", "workflow_name", "workflow_definition_id", "status",
                                       "started_at", "completed_at")} | {"step_count": 0} for r in rows]
            return 200, _page(view, c.request, key="data", hi=500, default=100)

        async def get_workflow_run(c: Ctx):
            with s.lock:
                r = s.workflow_runs.get(c.request.path_params["run_id"])
                if not r or r["org"] != c.org.id:
                    raise coded(404, "workflow_run_not_found", "Workflow run not found.")
                return 200, {k: v for k, v in r.items() if not k.startswith("_") and k not in ("org", "input")}

        api = self.api
        return [
            api("/v1/utils/authtest", get_authtest),
            api("/v1/users", post_users, idempotent=True),
            api("/v1/users", get_users),
            api("/v1/users/{user_id}", get_user),
            api("/v1/users/{user_id}", patch_user),
            api("/v1/vendors", post_vendors, idempotent=True),
            api("/v1/vendors", get_vendors),
            api("/v1/vendors/{vendor_id}", get_vendor),
            api("/v1/vendors/{vendor_id}", patch_vendor),
            api("/v1/vendors/{vendor_id}/services", post_services),  # NOT idempotent: header ignored
            api("/v1/vendors/{vendor_id}/services/{service_id}", patch_service),
            api("/v1/documents", post_documents, idempotent=True, stream_body=True),
            api("/v1/documents", get_documents),
            api("/v1/documents/{document_id}", get_document),
            api("/v1/documents/{document_id}", patch_document),
            api("/v1/documents/{document_id}", delete_document),
            api("/v1/documents/{document_id}/download", get_document_download),
            api("/v1/file/uploadable_url", get_uploadable_url),
            api("/v1/bill_of_materials", post_bom),
            api("/v1/bill_of_materials", get_boms),
            api("/v1/bill_of_materials/latest", get_bom_latest),
            api("/v1/bill_of_materials/components", get_bom_components_all),
            api("/v1/bill_of_materials/{bom_id}", get_bom),
            api("/v1/bill_of_materials/{bom_id}/components", get_bom_components),
            api("/v1/bill_of_materials/{bom_id}/archive", post_bom_archive),
            api("/v1/assessments", post_assessments, idempotent=True),
            api("/v1/assessments/{assessment_id}", get_assessment),
            api("/v1/assessments/{assessment_id}", delete_assessment),
            api("/v1/workflows/runs", get_workflow_runs),
            api("/v1/workflows/runs/{run_id}", get_workflow_run),
            api("/v1/workflows/{name}/run", post_workflow_run, idempotent=True),
            *findings_routes(self),
            *self.webhooks.routes(self.api),
            *self.progress.routes(),
            Route("/_s3/upload/{token}", self._s3_put, methods=["PUT"]),
            Route("/_s3/download/{document_id}", self._s3_get, methods=["GET"]),
            *self._admin_routes(),
        ]

    async def _upload_document(self, c: Ctx) -> tuple[int, Any]:
        s = self.store
        ctype = c.request.headers.get("content-type", "")
        try:
            form = await parse_stream(c.request.stream(), ctype, max_file_bytes=fixtures.MAX_DOCUMENT_BYTES,
                                      keep_bytes=s.keep_file_bytes)
        except MultipartError as exc:
            raise invalid((["body"], str(exc), "value_error")) from None
        files = [f for f in form.files if f.field_name == "file"]
        missing = [(["body", n], "Field required", "missing") for n, ok in
                   (("file", bool(files)), ("vendor_id", form.get("vendor_id") is not None)) if not ok]
        if missing:
            raise invalid(*missing)
        f = files[0]
        with s.lock:
            vendor = s.vendors.get(form.get("vendor_id") or "")
            if not vendor or vendor["org"] != c.org.id:
                raise coded(404, "vendor_not_found", "Vendor not found.")
            name = f.filename.replace("\\", "/").rsplit("/", 1)[-1]
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if ext not in fixtures.DOCUMENT_EXTENSIONS:
                raise coded(400, "unsupported_file_type", f"File type '.{ext}' is not supported.")
            if f.too_large:
                raise coded(413, "file_too_large", "File exceeds the 100 MiB limit.")
            dtype = form.get("document_type")
            if dtype is not None and dtype not in fixtures.DOCUMENT_TYPES:
                raise coded(422, "invalid_document_type", f"Unknown document_type: {dtype}")
            sids, aids = form.get_all("service_ids"), form.get_all("assessment_ids")
            s.check_links(c.org.id, vendor["id"], sids, aids)
            doc = s.add_document(c.org.id, vendor_id=vendor["id"], name=form.get("name") or name, extension=ext,
                                 size=f.size, sha256=f.sha256, content=f.content, document_type=dtype,
                                 service_ids=sids, assessment_ids=aids)
        return 201, doc

    async def _s3_put(self, request: Request) -> Response:
        s = self.store
        with s.lock:
            tok = s.upload_tokens.get(request.path_params["token"])
        if tok is None or tok["expires"] < s.now():
            return JSONResponse({"error": "AccessDenied", "message": "Request has expired"}, status_code=403)
        digest, size = hashlib.sha256(), 0
        # Small objects in memory; larger ones spill to an anonymous temp file (the BOM parser reads them).
        spool = tempfile.SpooledTemporaryFile(max_size=s.keep_file_bytes, prefix="cb-emulator-")
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
            spool.write(chunk)
        small = size <= s.keep_file_bytes
        if small:
            spool.seek(0)
        with s.lock:
            s.objects[tok["s3_url"]] = {"size": size, "sha256": digest.hexdigest(),
                                        "content": spool.read() if small else None, "file": None if small else spool,
                                        "content_type": tok["content_type"]}
        if small:
            spool.close()
        return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()[:32]}"'})

    async def _s3_get(self, request: Request) -> Response:
        with self.store.lock:
            d = self.store.documents.get(request.path_params["document_id"])
        if d is None or d["_content"] is None:
            return JSONResponse({"error": "NoSuchKey"}, status_code=404)
        content = d["_content"]
        return StreamingResponse(iter([content]), media_type="application/octet-stream",
                                 headers={"Content-Disposition": f'attachment; filename="{d["name"]}"'})

    # --- inspection and admin (outside /v1, no auth: loopback test tool) ----------------------

    def _admin_routes(self) -> list[Route]:
        s = self.store

        async def state(request: Request):
            return JSONResponse(s.snapshot())

        async def requests_log(request: Request):
            since = int(request.query_params.get("since", 0))
            return JSONResponse({"count": len(self.log), "items": self.log[since:]})

        async def faults(request: Request):
            if request.method == "PUT":
                self.set_faults(await request.json())
            return JSONResponse(self.faults.model_dump())

        async def bom_parse(request: Request):
            body = await request.json()
            s.bom_parse_reads = int(body.get("reads", 1))
            return JSONResponse({"bom_parse_reads": s.bom_parse_reads})

        async def entitlement(request: Request):
            body = await request.json()
            s.main_org.bom_entitled = bool(body.get("enabled", True))
            return JSONResponse({"bom_entitled": s.main_org.bom_entitled})

        async def api_keys(request: Request):
            body = await request.json()
            with s.lock:
                if body.get("revoke"):
                    s.api_keys.pop(body["revoke"], None)
                if body.get("add"):
                    s.api_keys[body["add"]] = s.main_org.id
            return JSONResponse({"keys": len(s.api_keys)})

        async def clock(request: Request):
            body = await request.json()
            s.clock_offset += float(body.get("advance_seconds", 0))
            self.progress.tick()
            return JSONResponse({"now": s.now()})

        async def vendor_by_hand(request: Request):
            vid = request.path_params["vendor_id"]
            with s.lock:
                v = s.vendors.get(vid)
                if v is None:
                    return JSONResponse({"error": "no such vendor"}, status_code=404)
                if request.method == "DELETE":
                    for sid in v["service_ids"]:
                        s.services.pop(sid, None)
                    del s.vendors[vid]
                    return JSONResponse({"deleted": vid})
                body = await request.json()
                v.update({k: body[k] for k in body if k in ("name", "website", "description", "hq_location")})
                return JSONResponse(s.vendor_view(v))

        async def workflows(request: Request):
            body = await request.json()
            s.main_org.workflows[body["name"]] = bool(body.get("enabled", True))
            return JSONResponse(s.main_org.workflows)

        return [
            Route("/_emulator/state", state),
            Route("/_emulator/requests", requests_log),
            Route("/_emulator/faults", faults, methods=["GET", "PUT"]),
            Route("/_emulator/bom_entitlement", entitlement, methods=["POST"]),
            Route("/_emulator/bom_parse", bom_parse, methods=["POST"]),
            Route("/_emulator/api_keys", api_keys, methods=["POST"]),
            Route("/_emulator/clock", clock, methods=["POST"]),
            Route("/_emulator/workflows", workflows, methods=["POST"]),
            Route("/_emulator/vendors/{vendor_id}", vendor_by_hand, methods=["PATCH", "DELETE"]),
        ]
