"""The error answers of the Coverbase emulator, in the envelopes the contract documents (§1.5).

``ApiProblem`` is raised anywhere below the HTTP layer and turned into a response by the
dispatcher (``coverbase_dispatch.py``): ``coded`` is the ``{"detail": {"code", "message"}}`` shape,
``invalid`` FastAPI's 422 list of validation items.
"""

from __future__ import annotations

from typing import Any


class ApiProblem(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(f"{status} {body}")


def coded(status: int, code: str, message: str) -> ApiProblem:
    return ApiProblem(status, {"detail": {"code": code, "message": message}})


def invalid(*items: tuple[list, str, str]) -> ApiProblem:
    return ApiProblem(422, {"detail": [{"loc": loc, "msg": msg, "type": typ} for loc, msg, typ in items]})
