"""What every ``/v1`` route module of the Coverbase emulator shares: the context a handler gets,
the dispatcher's signature, and the query-string helpers (paging, flags).

A handler is ``async def <method>_<name>(c: Ctx) -> (status, body)``; its name starts with its
HTTP method, which the dispatcher (``coverbase_dispatch.py``) uses for the route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.routing import Route

from connector.emulators.coverbase_errors import invalid
from connector.emulators.coverbase_store import CoverbaseStore


@dataclass
class Ctx:
    request: Request
    org: Any
    body: Any
    store: CoverbaseStore


Handler = Callable[[Ctx], Awaitable[tuple[int, Any]]]


class Api(Protocol):
    """Wraps a handler in auth, faults, idempotency and the request log (``coverbase_dispatch.Dispatcher``)."""

    def __call__(self, route: str, handler: Handler, *, idempotent: bool = False,
                 stream_body: bool = False) -> Route: ...


def limit_offset(request: Request, default: int = 50, hi: int = 200) -> tuple[int, int]:
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


def page(rows: list, request: Request, *, key: str = "items", total_key: str = "total", hi: int = 200,
         default: int = 50, with_paging: bool = True) -> dict:
    limit, offset = limit_offset(request, default, hi)
    out = {key: rows[offset: offset + limit], total_key: len(rows)}
    if with_paging:
        out.update(limit=limit, offset=offset)
    return out


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")
