"""The webhook receiver: a small Starlette app in front of the state DB.

``POST <path>`` (default ``/webhooks/coverbase``), in this order:

1. the body is read whole up to ``max_body_bytes`` (413 beyond: a delivery is a few hundred bytes);
2. ``Coverbase-Signature`` must be the HMAC-SHA256 of exactly those bytes under the shared secret
   (or the previous one, during a rotation), compared in constant time: else **401**, so a body
   altered after signing is refused like a forged one;
3. the body must be a delivery (``event_id``, ``event_type``, ``occurred_at``, ``data``) whose
   ``X-Coverbase-Event-Id`` header, if sent, names the same event: else 400;
4. a replay is refused (**401**): a delivery older than ``max_age_seconds`` (by ``occurred_at``,
   or by a ``Coverbase-Timestamp`` header when Coverbase sends one) or from the future. Every
   delivery inside the window has its event id in the store, so a replay there is a duplicate;
5. the event is stored once per ``event_id`` (**200** ``stored``); a duplicate delivery (at least
   once, unordered) is acknowledged and ignored (**200** ``duplicate``), so Coverbase stops
   retrying it. If the store is unavailable: 503, and Coverbase retries.

Nothing here writes to ServiceNow: ``Assessment.StatusChanged`` events wait for the outcomes
sensor, which re-reads the assessment (a delivery is a nudge, never the data to write).
``GET /healthz`` answers 200 for load balancers.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.webhooks.events import Event, EventStore
from connector.webhooks.signature import verify

log = logging.getLogger("connector.webhooks")

DEFAULT_PATH = "/webhooks/coverbase"
MAX_BODY_BYTES = 64 * 1024


def _reply(http_status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=http_status)


def _parse(raw: bytes) -> Event | str:
    """The delivery, or why it is not one."""
    try:
        body = json.loads(raw)
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    missing = [k for k in ("event_id", "event_type", "occurred_at", "data") if k not in body]
    if missing:
        return f"delivery lacks {', '.join(missing)}"
    data = body["data"] if isinstance(body["data"], dict) else {}
    if not isinstance(body["event_id"], str) or not body["event_id"] or not isinstance(body["event_type"], str):
        return "event_id and event_type must be non-empty strings"
    occurred = body["occurred_at"]
    if not isinstance(occurred, int) or isinstance(occurred, bool):
        return "occurred_at must be integer epoch seconds"

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return Event(body["event_id"], body["event_type"], occurred, text("assessment_id"), text("old_status"),
                 text("new_status"))


def build_app(store: EventStore, secrets: Sequence[str], *, path: str = DEFAULT_PATH, max_age_seconds: float = 300.0,
              max_future_seconds: float = 60.0, max_body_bytes: int = MAX_BODY_BYTES,
              clock: Callable[[], float] = time.time) -> Starlette:
    secrets = [s for s in secrets if s]
    if not secrets:
        raise ValueError("at least one webhook secret is required")

    async def receive(request: Request) -> Response:
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body_bytes:
                return _reply(413, error=f"body larger than {max_body_bytes} bytes")
        body = bytes(raw)
        if not verify(secrets, body, request.headers.get("coverbase-signature")):
            log.warning("webhook refused: missing or invalid Coverbase-Signature")
            return _reply(401, error="invalid signature")
        event = _parse(body)
        if isinstance(event, str):
            return _reply(400, error=event)
        header_id = request.headers.get("x-coverbase-event-id")
        if header_id is not None and header_id != event.event_id:
            return _reply(400, error="X-Coverbase-Event-Id does not match the body's event_id")
        now = clock()
        stamp = request.headers.get("coverbase-timestamp")
        try:
            sent_at = float(stamp) if stamp else float(event.occurred_at or 0)
        except ValueError:
            return _reply(400, error="Coverbase-Timestamp is not epoch seconds")
        if now - sent_at > max_age_seconds or sent_at - now > max_future_seconds:
            log.warning("webhook refused: stale or replayed delivery %s", event.event_id)
            return _reply(401, error="stale or replayed delivery")
        try:
            verdict = await run_in_threadpool(store.record, event, request.headers["coverbase-signature"])
        except sqlite3.Error as exc:
            log.error("webhook store unavailable: %s", exc)
            return _reply(503, error="store unavailable; retry")
        return _reply(200, status=verdict, event_id=event.event_id)

    async def health(request: Request) -> Response:
        return _reply(200, status="ok")

    return Starlette(routes=[Route(path, receive, methods=["POST"]), Route("/healthz", health)])
