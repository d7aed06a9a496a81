"""Inspection and admin routes of the Coverbase emulator (outside /v1, no auth: a loopback test tool).

State snapshot, request log, faults at run time, BOM parse pace and entitlement, API keys, the
virtual clock, workflows switched on or off, and vendors changed or deleted "by hand" (as a person
in Coverbase's UI would). Other parts add their own: findings, webhooks, assessment progress.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector.emulators.coverbase_faults import FaultInjector
from connector.emulators.coverbase_progress import AssessmentProgress
from connector.emulators.coverbase_store import CoverbaseStore


def routes(s: CoverbaseStore, injector: FaultInjector, log: list[dict], progress: AssessmentProgress) -> list[Route]:
    async def state(request: Request):
        return JSONResponse(s.snapshot())

    async def requests_log(request: Request):
        since = int(request.query_params.get("since", 0))
        return JSONResponse({"count": len(log), "items": log[since:]})

    async def faults(request: Request):
        if request.method == "PUT":
            injector.set(await request.json())
        return JSONResponse(injector.settings.model_dump())

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
        progress.tick()
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
