"""The Table API of the emulated instance (servicenow.md §1): list, read one, and ``/stats`` counts.

Writes to the same paths (``PATCH``/``PUT``) are ``sn_writes.py``'s.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.emulators import sn_acl, sn_query, sn_schema
from connector.emulators.sn_gateway import Gateway
from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_listing import link_headers, select
from connector.emulators.sn_render import render
from connector.emulators.sn_responses import CANCELLED, JSON_TYPE, sn_error, truncated
from connector.emulators.sn_writes import TableWrites


def routes(inst: ServiceNowInstance, writes: TableWrites, guarded: Gateway) -> list[Route]:
    async def table_list(request: Request) -> Response:
        table = request.path_params["table"]
        version = request.path_params.get("version", "v2")
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        if (acl := sn_acl.denied(inst.faults, table)) is not None:
            return acl
        q = request.query_params
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f] or None
        budget = inst.faults.quota_budget
        limit_req = int(q.get("sysparm_limit", 10000) or 10000)
        if budget and limit_req * len(fields or sn_schema.columns(table)) > budget:
            if inst.faults.quota_mode == "500":
                return sn_error(500, CANCELLED, "Check logs for error trace or enable glide.rest.debug property")
            return truncated(b'{"result":[{"sys_id":"')
        sel = select(inst, table, request, 10000)
        if isinstance(sel, Response):
            return sel
        page, total, limit, offset = sel
        if version == "v1" and not page and total == 0:
            return sn_error(404, "No Record found",
                            "Records matching query not found. Check query parameter or offset parameter")
        base = f"{request.url.scheme}://{request.url.netloc}"
        dv = q.get("sysparm_display_value", "false").lower()
        excl = q.get("sysparm_exclude_reference_link", "false").lower() == "true"
        body = {"result": [render(inst, table, r, fields, dv, excl, base) for r in page]}
        return JSONResponse(body, headers=link_headers(request, total, limit, offset), media_type=JSON_TYPE)

    async def table_get(request: Request) -> Response:
        table = request.path_params["table"]
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        if (acl := sn_acl.denied(inst.faults, table)) is not None:
            return acl
        with inst.lock:
            row = inst.find(table, request.path_params["sys_id"])
        if row is None or writes.hidden(request.path_params["sys_id"]):
            return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        q = request.query_params
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f] or None
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"result": render(inst, table, row, fields, q.get("sysparm_display_value", "false").lower(),
                                              q.get("sysparm_exclude_reference_link", "false") == "true", base)},
                            media_type=JSON_TYPE)

    async def stats(request: Request) -> Response:
        table = request.path_params["table"]
        if table not in sn_schema.TABLES:
            return sn_error(400, f"Invalid table {table}", None)
        if (acl := sn_acl.denied(inst.faults, table)) is not None:
            return acl
        types = inst.table_types(table)
        query = sn_query.parse(request.query_params.get("sysparm_query", ""), set(types))
        match = sn_query.matcher(query, types, inst.faults.invalid_query_returns_no_rows)
        with inst.lock:
            count = sum(1 for r in inst.rows_of(table) if match(r))
        return JSONResponse({"result": {"stats": {"count": str(count)}}}, media_type=JSON_TYPE)

    g = guarded
    return [
        Route("/api/now/table/{table}", g(table_list)),
        Route("/api/now/{version:str}/table/{table}", g(table_list)),
        Route("/api/now/table/{table}/{sys_id}", g(table_get)),
        Route("/api/now/{version:str}/table/{table}/{sys_id}", g(table_get)),
        Route("/api/now/stats/{table}", g(stats)),
    ]
