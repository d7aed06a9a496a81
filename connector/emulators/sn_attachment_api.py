"""The Attachment API of the emulated instance (servicenow.md §2): list, metadata, and the file.

The file streams from its ``Blob`` (a large one is generated as it is sent, never held), with
``X-Attachment-Metadata`` and ``Content-Length`` as real instances send them.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connector.emulators import sn_acl
from connector.emulators.sn_gateway import Gateway
from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_listing import link_headers, select
from connector.emulators.sn_responses import JSON_TYPE, sn_error


def attachment_meta(row: dict[str, str], base: str) -> dict[str, str]:
    out = {k: v for k, v in row.items() if k != "sys_class_name"}
    out["download_link"] = f"{base}/api/now/attachment/{row['sys_id']}/file"
    return out


def routes(inst: ServiceNowInstance, guarded: Gateway) -> list[Route]:
    async def attachment_list(request: Request) -> Response:
        if (acl := sn_acl.denied(inst.faults, "sys_attachment")) is not None:
            return acl
        sel = select(inst, "sys_attachment", request, 1000)
        if isinstance(sel, Response):
            return sel
        page, total, limit, offset = sel
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"result": [attachment_meta(r, base) for r in page]},
                            headers=link_headers(request, total, limit, offset), media_type=JSON_TYPE)

    async def attachment_get(request: Request) -> Response:
        if (acl := sn_acl.denied(inst.faults, "sys_attachment")) is not None:
            return acl
        with inst.lock:
            row = inst.tables["sys_attachment"].get(request.path_params["sys_id"])
        if row is None:
            return sn_error(404, "Record doesn't exist or ACL restricts the record retrieval", None)
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"result": attachment_meta(row, base)}, media_type=JSON_TYPE)

    async def attachment_file(request: Request) -> Response:
        if (acl := sn_acl.denied(inst.faults, "sys_attachment")) is not None:
            return acl
        sid = request.path_params["sys_id"]
        with inst.lock:
            row = inst.tables["sys_attachment"].get(sid)
            blob = inst.blobs.get(sid)
        if row is None or blob is None:
            return sn_error(404, "Record doesn't exist or ACL restricts the record retrieval", None)
        base = f"{request.url.scheme}://{request.url.netloc}"
        meta = json.dumps(attachment_meta(row, base), ensure_ascii=True)
        return StreamingResponse(blob.chunks(), media_type=row.get("content_type") or "application/octet-stream",
                                 headers={"X-Attachment-Metadata": meta, "Content-Length": row["size_bytes"]})

    g = guarded
    return [
        Route("/api/now/attachment", g(attachment_list)),
        Route("/api/now/{version:str}/attachment", g(attachment_list)),
        Route("/api/now/attachment/{sys_id}", g(attachment_get)),
        Route("/api/now/{version:str}/attachment/{sys_id}", g(attachment_get)),
        Route("/api/now/attachment/{sys_id}/file", g(attachment_file)),
        Route("/api/now/{version:str}/attachment/{sys_id}/file", g(attachment_file)),
    ]
