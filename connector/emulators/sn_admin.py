"""Admin routes of the ServiceNow emulator (outside /api, no auth: a loopback test tool).

Records inserted, changed and deleted between runs (as people and imports change an instance),
attachments added (small ones from base64, large ones generated as a stream), faults at run time,
the request log, tokens expired or revoked, credentials rotated, and the dataset's dirty cases.
Write settings and extra API users are ``sn_writes.py``'s.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.emulators.sn_dataset_model import Blob
from connector.emulators.sn_instance import ServiceNowInstance


def routes(inst: ServiceNowInstance) -> list[Route]:
    async def records(request: Request) -> Response:
        table = request.path_params["table"]
        sid = request.path_params.get("sys_id")
        if request.method == "POST":
            return JSONResponse(inst.insert(table, await request.json()), status_code=201)
        if request.method == "PATCH":
            row = inst.update(table, sid, await request.json())
            return JSONResponse(row) if row else JSONResponse({"error": "no such record"}, status_code=404)
        return JSONResponse({"deleted": inst.delete(table, sid)})

    async def attachments(request: Request) -> Response:
        body = await request.json()
        if body.get("stream_size"):  # a large file produced as a stream, never held in memory
            blob = Blob(stream_size=int(body["stream_size"]), stream_seed=int(body.get("stream_seed", 1)),
                        stream_kind=body.get("stream_kind", "random"))
            digest = hashlib.sha256()
            for chunk in blob.chunks():
                digest.update(chunk)
            row = inst.add_attachment(body["table_name"], body["table_sys_id"], body["file_name"], b"",
                                      body.get("content_type", "application/octet-stream"), body.get("sys_id"))
            inst.update("sys_attachment", row["sys_id"], {"size_bytes": str(blob.stream_size),
                                                          "hash": digest.hexdigest()})
            inst.blobs[row["sys_id"]] = blob
            return JSONResponse(inst.tables["sys_attachment"][row["sys_id"]], status_code=201)
        content = base64.b64decode(body.get("content_b64", ""))
        return JSONResponse(inst.add_attachment(body["table_name"], body["table_sys_id"], body["file_name"],
                                                content, body.get("content_type", "application/octet-stream"),
                                                body.get("sys_id")), status_code=201)

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            inst.set_faults(await request.json())
        return JSONResponse(inst.faults.model_dump())

    async def requests_log(request: Request) -> Response:
        since = int(request.query_params.get("since", 0))
        return JSONResponse({"count": len(inst.log), "items": inst.log[since:]})

    async def expire_tokens(request: Request) -> Response:
        with inst.lock:
            for t in inst.tokens:
                inst.tokens[t] = 0
            if request.query_params.get("refresh", "false") == "true":  # revoke refresh tokens too
                for t in inst.refresh_tokens:
                    inst.refresh_tokens[t] = 0
        return JSONResponse({"expired": len(inst.tokens)})

    async def token_grants(request: Request) -> Response:
        return JSONResponse({"items": inst.token_grants})

    async def credentials(request: Request) -> Response:
        body = await request.json()
        inst.password = body.get("password", inst.password)
        inst.client_secret = body.get("client_secret", inst.client_secret)
        return JSONResponse({"ok": True})

    async def dirty(request: Request) -> Response:
        return JSONResponse([c.__dict__ for c in inst.ds.dirty])

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
