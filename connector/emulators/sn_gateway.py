"""What stands in front of every ``/api`` handler of the emulated instance.

Basic auth or an OAuth bearer token (401 otherwise); one request at a time per ``JSESSIONID``
(another request of a busy session gets 202, unprocessed); the seeded faults (``sn_faults.py``);
the request log.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from connector.emulators import sn_faults
from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_responses import sn_error
from connector.emulators.sn_writes import TableWrites

Handler = Callable[[Request], Awaitable[Response]]


class Gateway:
    """``gateway(handler)`` is the guarded endpoint."""

    def __init__(self, inst: ServiceNowInstance, writes: TableWrites) -> None:
        self.inst = inst
        self.writes = writes

    def auth_ok(self, request: Request) -> bool:
        """Basic (the integration user, or an extra API user of ``sn_writes``) or a live bearer token."""
        inst = self.inst
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return (secrets.compare_digest(user, inst.username) and secrets.compare_digest(pw, inst.password)) \
                or self.writes.authenticates(user, pw)
        if auth.lower().startswith("bearer "):
            exp = inst.tokens.get(auth[7:].strip())
            return exp is not None and exp > time.time()
        return False

    def __call__(self, handler: Handler, *, api: bool = True) -> Handler:
        """Auth, session-cookie queueing (202), seeded faults and the request log around a handler."""
        inst = self.inst

        async def endpoint(request: Request) -> Response:
            entry = {"ts": time.time(), "method": request.method, "path": request.url.path,
                     "query": dict(request.query_params), "status": None, "fault": None}
            inst.log.append(entry)
            session = request.cookies.get("JSESSIONID")
            if session and inst.sessions.get(session, 0) > 0:
                # Another request of this session is still running: ServiceNow queues it and, past
                # the queue limit, answers 202 without processing (servicenow.md §1.6).
                entry.update(status=202, fault="shared-session")
                return Response(b"", status_code=202)
            session = session or secrets.token_hex(16)
            inst.sessions[session] = inst.sessions.get(session, 0) + 1
            try:
                if not self.auth_ok(request):
                    resp = sn_error(401, "User Not Authenticated", "Required to provide Auth information")
                else:
                    fault = sn_faults.draw(inst.faults, inst.roller, request) if api else {}
                    if fault.get("delay"):
                        await asyncio.sleep(fault["delay"])
                    if fault.get("kind"):
                        entry["fault"] = fault["kind"]
                        resp = sn_faults.response(inst.faults, fault["kind"], fault.get("rng") or random.Random(0))
                    else:
                        resp = await handler(request)
                resp.set_cookie("JSESSIONID", session, httponly=True)
                entry["status"] = resp.status_code
                return resp
            finally:
                inst.sessions[session] -= 1

        return endpoint
