"""The ``/v1/bill_of_materials`` routes of the Coverbase emulator (contract §2.4).

Without the BOM entitlement every route answers 404 (most with FastAPI's plain ``Not Found``);
the BOM rules themselves are in ``coverbase_boms.py``.
"""

from __future__ import annotations

from starlette.routing import Route

from connector.emulators.coverbase_errors import ApiProblem, coded, invalid
from connector.emulators.coverbase_http import Api, Ctx, flag, page
from connector.emulators.coverbase_store import CoverbaseStore


def routes(api: Api, s: CoverbaseStore) -> list[Route]:
    def gate(c: Ctx) -> None:
        if not c.org.bom_entitled:
            raise ApiProblem(404, {"detail": "Not Found"})

    def one_of(c: Ctx) -> tuple[str | None, str | None]:
        q = c.request.query_params
        vid, sid = q.get("vendor_id"), q.get("service_id")
        if (vid is None) == (sid is None):
            raise invalid((["query", "vendor_id"], "Exactly one of vendor_id or service_id must be provided.",
                           "value_error"))
        return vid, sid

    async def post_bom(c: Ctx):
        if not c.org.bom_entitled:
            raise coded(404, "vendor_not_found", "Vendor not found.")
        with s.lock:
            return 200, s.create_bom(c.org, c.body or {})

    async def get_bom_latest(c: Ctx):
        gate(c)
        vid, sid = one_of(c)
        with s.lock:
            rows = s.boms_for(c.org.id, vid, sid, False)
            return 200, (s.bom_view(rows[0], with_components=True) if rows else None)

    async def get_boms(c: Ctx):
        gate(c)
        vid, sid = one_of(c)
        with s.lock:
            rows = [s.bom_view(b, with_components=False) for b in
                    s.boms_for(c.org.id, vid, sid, flag(c.request, "include_archived"))]
        return 200, page(rows, c.request, key="data", total_key="total_count", with_paging=False)

    def _components(rows: list[dict], c: Ctx) -> list[dict]:
        q = c.request.query_params
        if q.get("search"):
            needle = q["search"].lower()
            rows = [r for r in rows if needle in (r["name"] or "").lower() or needle in (r.get("purl") or "").lower()]
        if q.get("component_type"):
            rows = [r for r in rows if r["component_type"] == q["component_type"]]
        return rows

    async def get_bom_components_all(c: Ctx):
        gate(c)
        vid = c.request.query_params.get("vendor_id")
        if not vid:
            raise invalid((["query", "vendor_id"], "Field required", "missing"))
        with s.lock:
            rows = []
            for b in s.boms_for(c.org.id, vid, None, True):
                rows += s.bom_view(b, with_components=True)["components"]
        return 200, page(_components(rows, c), c.request, key="data", total_key="total_count", with_paging=False)

    async def get_bom(c: Ctx):
        gate(c)
        with s.lock:
            return 200, s.bom_view(s.bom_in_org(c.org.id, c.request.path_params["bom_id"]), with_components=True)

    async def get_bom_components(c: Ctx):
        gate(c)
        with s.lock:
            rows = s.bom_view(s.bom_in_org(c.org.id, c.request.path_params["bom_id"]),
                              with_components=True)["components"]
        return 200, page(_components(rows, c), c.request, key="data", total_key="total_count", with_paging=False)

    async def post_bom_archive(c: Ctx):
        if not c.org.bom_entitled:
            raise coded(404, "bom_not_found", "Bill of materials not found.")
        with s.lock:
            b = s.bom_in_org(c.org.id, c.request.path_params["bom_id"])
            b["is_archived"] = True
            b["updated_at"] = s.now()
            return 200, s.bom_view(b, with_components=False)

    return [
        api("/v1/bill_of_materials", post_bom),
        api("/v1/bill_of_materials", get_boms),
        api("/v1/bill_of_materials/latest", get_bom_latest),
        api("/v1/bill_of_materials/components", get_bom_components_all),
        api("/v1/bill_of_materials/{bom_id}", get_bom),
        api("/v1/bill_of_materials/{bom_id}/components", get_bom_components),
        api("/v1/bill_of_materials/{bom_id}/archive", post_bom_archive),
    ]
