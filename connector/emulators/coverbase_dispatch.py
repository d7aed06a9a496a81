"""The pipeline around every ``/v1`` handler of the Coverbase emulator.

In order: request log entry, API key (401), the ``before_request`` hook (assessment progress
catches up), JSON body (422 on bad JSON), a hung server, string limits, latency, the
requests-per-second bucket and drawn 429/5xx (``coverbase_faults.py``), an idempotent replay
(``Idempotency-Key``, contract §1.8), the handler, then an ambiguous answer if one was drawn.
``ApiProblem`` becomes its JSON answer with an ``X-Request-Id``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.emulators.coverbase_errors import ApiProblem, coded, invalid
from connector.emulators.coverbase_faults import DroppedResponse, FaultInjector, rate_limited
from connector.emulators.coverbase_http import Ctx, Handler
from connector.emulators.coverbase_store import CoverbaseStore


class Dispatcher:
    """``dispatcher(route, handler)`` is the handler's ``Route``; ``log`` holds every request seen."""

    def __init__(self, store: CoverbaseStore, faults: FaultInjector, before_request: Callable[[], None]) -> None:
        self.store = store
        self.faults = faults
        self.before_request = before_request
        self.log: list[dict] = []

    def __call__(self, route: str, handler: Handler, *, idempotent: bool = False, stream_body: bool = False) -> Route:
        async def endpoint(request: Request) -> Response:
            t0 = time.monotonic()
            key = request.headers.get("idempotency-key")
            entry = {"ts": time.time(), "method": request.method, "path": request.url.path, "route": route,
                     "query": request.url.query, "idempotency_key": key, "status": None, "replayed": False,
                     "fault": None, "org": None}
            self.log.append(entry)
            try:
                auth = request.headers.get("authorization", "")
                token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
                org = self.store.org_for_key(token)
                if org is None:
                    raise ApiProblem(401, {"detail": "Invalid or expired API key."})
                entry["org"] = org.id
                self.before_request()
                raw = b"" if stream_body else await request.body()
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise invalid((["body", 0], "JSON decode error", "json_invalid")) from None
                await self.faults.maybe_hang(request, entry)
                self.faults.check_lengths(body)
                fault = self.faults.decide(request, raw)
                if fault.get("delay"):
                    await asyncio.sleep(fault["delay"])
                if self.faults.bucket is not None and request.url.path.startswith("/v1"):
                    wait = self.faults.bucket.take()
                    if wait is not None:
                        entry["fault"] = "rps_limit"
                        raise rate_limited(wait)
                if fault.get("status") == 429:
                    entry["fault"] = "429"
                    raise rate_limited(self.faults.settings.retry_after)
                if fault.get("status"):
                    entry["fault"] = str(fault["status"])
                    raise coded(fault["status"], "upstream_error", "Injected server error.")
                scope = request.url.path if self.store.idempotency_scope == "path" else route
                if idempotent and key:
                    with self.store.lock:
                        hit = self.store.idem_lookup(org.id, f"{request.method} {scope}", key)
                    if hit is not None:
                        entry.update(status=hit[0], replayed=True)
                        return JSONResponse(hit[1], status_code=hit[0], headers={"Idempotent-Replayed": "true"})
                status, out = await handler(Ctx(request, org, body, self.store))
                if idempotent and key and 200 <= status < 300:
                    with self.store.lock:
                        self.store.idem_store(org.id, f"{request.method} {scope}", key, status, out)
                if fault.get("ambiguous"):
                    entry["fault"] = f"ambiguous-{fault['ambiguous']}"
                    entry["status"] = status
                    if fault["ambiguous"] == "disconnect":
                        return DroppedResponse()
                    return JSONResponse({"detail": {"code": "upstream_timeout", "message": "Gateway timeout."}},
                                        status_code=504)
                entry["status"] = status
                if status == 204:
                    return Response(status_code=204)
                return JSONResponse(out, status_code=status,
                                    headers={"X-Request-Id": f"req_{len(self.log):08d}"})
            except ClientDisconnect:
                entry["status"] = 499  # the client went away mid-request (e.g. a killed sync)
                return Response(status_code=499)
            except ApiProblem as p:
                entry["status"] = p.status
                return JSONResponse(p.body, status_code=p.status,
                                    headers={**p.headers, "X-Request-Id": f"req_{len(self.log):08d}"})
            finally:
                entry["duration_ms"] = round((time.monotonic() - t0) * 1000, 2)

        return Route(route, endpoint, methods=[handler.__name__.split("_")[0].upper()])
