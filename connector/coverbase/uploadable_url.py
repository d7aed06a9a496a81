"""The one place that knows the shape of ``GET /v1/file/uploadable_url``.

The BOM flow needs a presigned upload target, but Coverbase does not document this endpoint
(contract §2.4, §4 q13). Our working assumption [INF], used by the emulator too:

    GET /v1/file/uploadable_url?filename=<name>&content_type=<mime>
    200 {"url": "<presigned https URL>", "method": "PUT", "headers": {...},
         "s3_url": "s3://<bucket>/<key>", "expires_in": 900}

The parser below also accepts the obvious alternative key names, so when the real shape is
known only this module (and the emulator's route) needs to change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

PATH = "/v1/file/uploadable_url"


def query_params(filename: str, content_type: str) -> dict[str, str]:
    return {"filename": filename, "content_type": content_type}


class UploadTarget(BaseModel):
    url: str
    method: str = "PUT"
    headers: dict[str, str] = Field(default_factory=dict)
    s3_url: str
    expires_in: int | None = None


def _first(body: dict[str, Any], *names: str) -> Any:
    for n in names:
        if body.get(n):
            return body[n]
    return None


def parse(body: Any) -> UploadTarget:
    if not isinstance(body, dict):
        raise ValueError("uploadable_url answered something other than a JSON object")
    url = _first(body, "url", "upload_url", "presigned_url", "uploadable_url")
    s3_url = _first(body, "s3_url", "s3_uri", "file_url", "key_url")
    if not url or not s3_url:
        raise ValueError(
            "uploadable_url response lacks an upload URL or an s3_url "
            f"(keys present: {sorted(body)})"
        )
    return UploadTarget(
        url=url,
        method=str(body.get("method") or "PUT").upper(),
        headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
        s3_url=s3_url,
        expires_in=body.get("expires_in"),
    )
