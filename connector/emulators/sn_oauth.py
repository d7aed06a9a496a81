"""OAuth 2.0 of the emulated instance: ``POST /oauth_token.do`` (servicenow.md §3.2).

Password, refresh-token and client-credentials grants; access tokens live ``token_ttl`` seconds
(a fault setting can shorten them to a few); refresh tokens expire and, when switched, rotate;
the endpoint can be slow or refuse under load (seeded 429/503). Every answer is recorded in
``token_grants``. Bearer tokens are checked by the gateway (``sn_gateway.py``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_responses import sn_error


def routes(inst: ServiceNowInstance) -> list[Route]:
    async def oauth_token(request: Request) -> Response:
        f = inst.faults
        grant = "?"
        entry: dict[str, Any] = {"ts": time.time(), "grant": grant, "status": None, "fault": None}
        inst.token_grants.append(entry)
        if f.token_latency_ms:
            await asyncio.sleep(f.token_latency_ms / 1000.0)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            entry["status"] = 401
            return JSONResponse({"error": "server_error", "error_description": "access_denied"}, status_code=401)
        form = await request.form()
        grant = entry["grant"] = str(form.get("grant_type"))
        if f.token_rate_429 or f.token_rate_5xx:
            rng = inst.roller.rng_for("POST", "/oauth_token.do", grant)
            if f.token_rate_429 and rng.random() < f.token_rate_429:
                entry.update(status=429, fault="429")
                return sn_error(429, "Rate limit exceeded", "Too many token requests",
                                {"Retry-After": f"{f.retry_after:g}"})
            if f.token_rate_5xx and rng.random() < f.token_rate_5xx:
                entry.update(status=503, fault="5xx")
                return Response("<html><body><h1>503 Service Unavailable</h1></body></html>", status_code=503,
                                media_type="text/html")
        denied = JSONResponse({"error": "server_error", "error_description": "access_denied"}, status_code=401)
        entry["status"] = 401
        if (not inst.client_id or form.get("client_id") != inst.client_id
                or form.get("client_secret") != inst.client_secret):
            return denied
        now = time.time()
        with inst.lock:
            if grant == "password":
                if form.get("username") != inst.username or form.get("password") != inst.password:
                    return denied
            elif grant == "refresh_token":
                old = str(form.get("refresh_token"))
                if inst.refresh_tokens.get(old, 0) <= now:
                    entry["fault"] = "refresh-token-invalid"
                    return denied
                if f.rotate_refresh_tokens:
                    inst.refresh_tokens.pop(old, None)
            elif grant != "client_credentials":
                entry["status"] = 400
                return JSONResponse({"error": "unsupported_grant_type", "error_description": grant}, status_code=400)
            ttl = f.token_ttl if f.token_ttl is not None else inst.token_ttl
            token = secrets.token_urlsafe(24)
            inst.tokens[token] = now + ttl
            body: dict[str, Any] = {"access_token": token, "scope": "useraccount", "token_type": "Bearer",
                                    # ServiceNow answers whole seconds; a test lifetime below one stays 1
                                    "expires_in": max(1, int(round(ttl)))}
            if grant == "password" or (grant == "refresh_token" and f.rotate_refresh_tokens):
                refresh = secrets.token_urlsafe(24)
                inst.refresh_tokens[refresh] = now + (f.refresh_token_ttl if f.refresh_token_ttl is not None
                                                      else 8_640_000)
                body["refresh_token"] = refresh
        entry["status"] = 200
        return JSONResponse(body)

    return [Route("/oauth_token.do", oauth_token, methods=["POST"])]
