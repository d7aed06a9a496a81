"""The ``/v1/findings`` routes of the Coverbase emulator, and its findings switches under ``/_emulator``.

What they answer, and why, is written down with the rules in ``coverbase_findings.py``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector.emulators.coverbase_findings import FindingRules, finding_view
from connector.emulators.coverbase_http import Api, Ctx, page
from connector.emulators.coverbase_store import CoverbaseStore


def routes(api: Api, s: CoverbaseStore) -> list[Route]:
    """The /v1 findings routes (through ``api``: auth, faults, request log) and the admin routes."""
    rules: FindingRules = s.finding_rules

    async def get_findings(c: Ctx):
        q = c.request.query_params
        with s.lock:
            rows = rules.list(c.org.id, q.get("vendor_id"), q.get("assessment_id"))
        return 200, page(rows, c.request)

    async def post_findings(c: Ctx):
        with s.lock:
            return 201, rules.create(c.org, c.body)

    async def get_finding(c: Ctx):
        with s.lock:
            return 200, finding_view(rules.in_org(c.org.id, c.request.path_params["finding_id"]),
                                     text=rules.include_text)

    async def patch_finding(c: Ctx):
        with s.lock:
            return 200, rules.patch(c.org.id, c.request.path_params["finding_id"], c.body or {})

    async def text_switch(request: Request):
        if request.method == "PUT":
            rules.include_text = bool((await request.json()).get("include", True))
        return JSONResponse({"include": rules.include_text})

    async def by_hand(request: Request):
        body = await request.json()
        with s.lock:
            return JSONResponse(rules.create(s.main_org, body), status_code=201)

    return [
        api("/v1/findings", get_findings),
        api("/v1/findings", post_findings),  # NOT idempotent: the Idempotency-Key header is ignored
        api("/v1/findings/{finding_id}", get_finding),
        api("/v1/findings/{finding_id}", patch_finding),
        Route("/_emulator/findings_text", text_switch, methods=["GET", "PUT"]),
        Route("/_emulator/findings", by_hand, methods=["POST"]),
    ]
