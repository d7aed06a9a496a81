"""The ``/v1`` routes of Coverbase vendor documents (contract §2.3), and the emulated S3 behind them.

``POST /v1/documents`` streams its multipart body (``multipart_stream.py``): the 100 MiB limit is
measured as the file arrives. ``GET /v1/file/uploadable_url`` hands out a presigned ``PUT`` to
``/_s3/upload/{token}`` (how BOM files arrive); ``/_s3/download/{id}`` serves a document's bytes.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connector.emulators import fixtures
from connector.emulators.coverbase_errors import coded, invalid
from connector.emulators.coverbase_http import Api, Ctx, page
from connector.emulators.coverbase_store import CoverbaseStore
from connector.emulators.multipart_stream import MultipartError, parse_stream


def routes(api: Api, s: CoverbaseStore) -> list[Route]:
    async def post_documents(c: Ctx):
        return await _upload_document(s, c)

    async def get_documents(c: Ctx):
        q = c.request.query_params
        with s.lock:
            rows = s.list_documents(c.org.id, q.get("vendor_id"), q.get("service_id"), q.get("assessment_id"))
        return 200, page(rows, c.request, key="data")

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

    async def s3_put(request: Request) -> Response:
        return await _s3_put(s, request)

    async def s3_get(request: Request) -> Response:
        return await _s3_get(s, request)

    return [
        api("/v1/documents", post_documents, idempotent=True, stream_body=True),
        api("/v1/documents", get_documents),
        api("/v1/documents/{document_id}", get_document),
        api("/v1/documents/{document_id}", patch_document),
        api("/v1/documents/{document_id}", delete_document),
        api("/v1/documents/{document_id}/download", get_document_download),
        api("/v1/file/uploadable_url", get_uploadable_url),
        Route("/_s3/upload/{token}", s3_put, methods=["PUT"]),
        Route("/_s3/download/{document_id}", s3_get, methods=["GET"]),
    ]


async def _upload_document(s: CoverbaseStore, c: Ctx) -> tuple[int, Any]:
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


async def _s3_put(s: CoverbaseStore, request: Request) -> Response:
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


async def _s3_get(s: CoverbaseStore, request: Request) -> Response:
    with s.lock:
        d = s.documents.get(request.path_params["document_id"])
    if d is None or d["_content"] is None:
        return JSONResponse({"error": "NoSuchKey"}, status_code=404)
    content = d["_content"]
    return StreamingResponse(iter([content]), media_type="application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{d["name"]}"'})
