"""What a ServiceNow instance answers when it does not answer with records.

The JSON error envelope (``{"error": {"message", "detail"}, "status": "failure"}``), and the
cancelled transaction: a ``200`` whose body breaks off mid-result and ends with that envelope
(servicenow.md §1.6), which a client must not take for a short page.
"""

from __future__ import annotations

import json

from starlette.responses import JSONResponse, Response

JSON_TYPE = "application/json;charset=UTF-8"
CANCELLED = "Transaction cancelled: maximum execution time exceeded"


def sn_error(status: int, message: str, detail: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                        status_code=status, headers=headers, media_type=JSON_TYPE)


def truncated(prefix: bytes) -> Response:
    tail = json.dumps({"error": {"message": CANCELLED, "detail": "Check logs for error trace"}, "status": "failure"})
    return Response(prefix + tail.encode(), status_code=200, media_type=JSON_TYPE)
