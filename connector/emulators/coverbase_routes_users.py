"""The ``/v1`` routes of Coverbase users (contract §2.1), and the API key check ``/v1/utils/authtest``."""

from __future__ import annotations

from starlette.routing import Route

from connector.emulators.coverbase_http import Api, Ctx, flag, page
from connector.emulators.coverbase_store import CoverbaseStore


def routes(api: Api, s: CoverbaseStore) -> list[Route]:
    async def get_authtest(c: Ctx):
        return 200, {"msg": "Auth successful"}

    async def post_users(c: Ctx):
        with s.lock:
            return s.create_or_get_user(c.org.id, c.body or {})

    async def get_users(c: Ctx):
        email = c.request.query_params.get("email")
        with s.lock:
            rows = s.list_users(c.org.id, email, flag(c.request, "include_archived"))
        if email is not None:  # limit/offset ignored with email (contract §2.1)
            return 200, {"items": rows, "total": len(rows), "limit": 50, "offset": 0}
        return 200, page(rows, c.request)

    async def get_user(c: Ctx):
        with s.lock:
            return 200, s.user_view(s.user_in_org(c.org.id, c.request.path_params["user_id"]))

    async def patch_user(c: Ctx):
        with s.lock:
            return 200, s.patch_user(c.org.id, c.request.path_params["user_id"], c.body or {})

    return [
        api("/v1/utils/authtest", get_authtest),
        api("/v1/users", post_users, idempotent=True),
        api("/v1/users", get_users),
        api("/v1/users/{user_id}", get_user),
        api("/v1/users/{user_id}", patch_user),
    ]
