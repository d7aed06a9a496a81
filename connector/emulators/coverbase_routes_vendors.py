"""The ``/v1`` routes of Coverbase vendors and their services (contract §2.2)."""

from __future__ import annotations

from starlette.routing import Route

from connector.emulators.coverbase_http import Api, Ctx, page
from connector.emulators.coverbase_store import CoverbaseStore


def routes(api: Api, s: CoverbaseStore) -> list[Route]:
    async def post_vendors(c: Ctx):
        with s.lock:
            return 201, s.create_vendor(c.org, c.body or {})

    async def get_vendors(c: Ctx):
        q = c.request.query_params
        with s.lock:
            rows = s.list_vendors(c.org.id, q.get("name"), q.get("external_id"))
        return 200, page(rows, c.request)

    async def get_vendor(c: Ctx):
        with s.lock:
            return 200, s.vendor_view(s.vendor_in_org(c.org.id, c.request.path_params["vendor_id"]))

    async def patch_vendor(c: Ctx):
        with s.lock:
            return 200, s.patch_vendor(c.org, c.request.path_params["vendor_id"], c.body or {})

    async def post_services(c: Ctx):
        with s.lock:
            return 201, s.create_service(c.org, c.request.path_params["vendor_id"], c.body or {})

    async def patch_service(c: Ctx):
        p = c.request.path_params
        with s.lock:
            return 200, s.patch_service(c.org, p["vendor_id"], p["service_id"], c.body or {})

    return [
        api("/v1/vendors", post_vendors, idempotent=True),
        api("/v1/vendors", get_vendors),
        api("/v1/vendors/{vendor_id}", get_vendor),
        api("/v1/vendors/{vendor_id}", patch_vendor),
        api("/v1/vendors/{vendor_id}/services", post_services),  # NOT idempotent: header ignored
        api("/v1/vendors/{vendor_id}/services/{service_id}", patch_service),
    ]
