"""Fault settings of the ServiceNow emulator: what real instances and their load balancers do to a client.

``ServiceNowFaults`` is settable at start (CLI) and at run time (``PUT /_emulator/faults``). The
per-request faults are drawn here (``draw``, ``response``), deterministic by seed and request
(``faults.FaultRoller``), and applied by the gateway (``sn_gateway.py``): rate-limit 429s (with and
without the rate headers), 502/503 from the load balancer, 202 without processing, a JSON ``null``,
an HTML login or hibernation page, the cancelled transaction (500, or a 200 cut short). The other
settings are read where they apply: quotas, row ACLs and order by the Table API and its listings,
token lifetimes and token-endpoint trouble by OAuth, read ACLs by ``sn_acl``.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from connector.emulators.faults import FaultRoller
from connector.emulators.sn_responses import CANCELLED, JSON_TYPE, sn_error, truncated


class ServiceNowFaults(BaseModel):
    """Settable at start (CLI) and at run time (``PUT /_emulator/faults``); seeded."""

    seed: int = 0
    latency_ms: float = 0.0
    rate_429: float = 0.0  # rate-limit rule hit: Retry-After + X-RateLimit-* headers
    rate_429_bare: float = 0.0  # semaphore queue full: 429 without rate headers
    retry_after: float = 1.0
    rate_truncated: float = 0.0  # 200 whose body is cut and ends with the cancel error
    rate_500: float = 0.0  # 500 "Transaction cancelled"
    rate_5xx: float = 0.0  # 502/503 from the load balancer
    rate_202: float = 0.0  # request not processed (session queue overflow)
    rate_null: float = 0.0  # 200 with a JSON null body
    rate_html: float = 0.0  # 200 text/html (login page / hibernating instance)
    html_always: bool = False
    quota_budget: int | None = None  # sysparm_limit x fields over this -> transaction cancelled
    quota_mode: Literal["truncated", "500"] = "truncated"
    acl_hide_rate: float = 0.0  # rows hidden by row ACLs, applied after limit/offset
    unstable_order: bool = True  # without ORDERBY, every request sees another order
    invalid_query_returns_no_rows: bool = False
    path_filter: str | None = None
    # OAuth as real instances configure it (servicenow.md §3.2): lifetimes down to a few seconds,
    # refresh tokens that expire and rotate, and a token endpoint that is slow or refuses under load.
    token_ttl: float | None = None  # access-token lifetime in seconds (overrides --token-ttl)
    refresh_token_ttl: float | None = None  # refresh tokens die after this (instance default: 100 days)
    rotate_refresh_tokens: bool = False  # a refresh grant answers a new refresh token; the old one dies
    token_latency_ms: float = 0.0
    token_rate_429: float = 0.0
    token_rate_5xx: float = 0.0
    # Read ACLs of the integration user (sn_acl.py): tables it may not read (403), fields it may not see.
    denied_tables: list[str] = []
    hidden_fields: list[str] = []  # "table.field", left out of every record of that table


def draw(faults: ServiceNowFaults, roller: FaultRoller, request: Request) -> dict[str, Any]:
    """The fault this request gets, if any: ``{"delay": s, "kind": ..., "rng": ...}``."""
    f = faults
    rates = (f.rate_429, f.rate_429_bare, f.rate_5xx, f.rate_202, f.rate_null, f.rate_html, f.rate_truncated,
             f.rate_500)
    if not any(rates) and not f.html_always:
        return {"delay": f.latency_ms / 1000.0}  # nothing random to decide: skip the seeded draw
    path = request.url.path
    if f.path_filter and not re.search(f.path_filter, path):
        return {}
    rng = roller.rng_for(request.method, path, request.url.query)
    out: dict[str, Any] = {"delay": f.latency_ms / 1000.0}
    checks = [("429", f.rate_429), ("429bare", f.rate_429_bare), ("5xx", f.rate_5xx), ("202", f.rate_202),
              ("null", f.rate_null), ("html", f.rate_html), ("truncated", f.rate_truncated), ("500", f.rate_500)]
    for name, rate in checks:
        if rate and rng.random() < rate:
            out["kind"] = name
            out["rng"] = rng
            break
    if f.html_always:
        out["kind"] = "html"
    return out


def response(faults: ServiceNowFaults, kind: str, rng: random.Random) -> Response:
    """What the instance answers for a drawn fault of this ``kind``."""
    f = faults
    if kind == "429":
        reset = int(time.time()) + max(1, int(f.retry_after + 0.999))
        return sn_error(429, "Rate limit exceeded", "Rate limit of 100 requests per hour for Table API exceeded",
                        {"Retry-After": f"{f.retry_after:g}", "X-RateLimit-Limit": "100",
                         "X-RateLimit-Reset": str(reset), "X-RateLimit-Rule": "a1b2c3d4e5f60718293a4b5c6d7e8f90"})
    if kind == "429bare":
        return sn_error(429, "Maximum number of queued transactions exceeded", None)
    if kind == "5xx":
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=rng.choice([502, 503]),
                        media_type="text/html")
    if kind == "202":
        return Response(b"", status_code=202)
    if kind == "null":
        return Response(b"null", status_code=200, media_type=JSON_TYPE)
    if kind == "html":
        return Response("<html><head><title>Instance Hibernating page</title></head><body>Your instance is "
                        "hibernating. Log in to wake it up.</body></html>", status_code=200, media_type="text/html")
    if kind == "500":
        return sn_error(500, CANCELLED, "Check logs for error trace or enable glide.rest.debug property "
                                        "to verify REST request processing")
    return truncated(b'{"result":[{"sys_id":"0123')
