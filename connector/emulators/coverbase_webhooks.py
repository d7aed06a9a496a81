"""Webhook subscriptions and deliveries of the Coverbase emulator (coverbase-api.md §2.11).

Subscriptions: ``POST/GET /v1/webhooks``, ``PATCH/DELETE /v1/webhooks/{id}``,
``POST /v1/webhooks/{id}/test``, ``GET /v1/webhooks/{id}/deliveries``; validation in the documented
order (secret → ``400 weak_secret``, url → ``400 invalid_url``: non-HTTPS, credentials, a
non-standard port, a private/loopback/link-local/metadata address; events → ``422
invalid_event_types``, strict and case-sensitive). The secret is never returned.

Deliveries: a ``POST`` of exactly ``{event_id, event_type, occurred_at, data}``, signed with
``Coverbase-Signature`` = lower-case hex HMAC-SHA256 of the raw body keyed by the secret, with
``X-Coverbase-Event-Id`` / ``X-Coverbase-Event-Type``; a fan-out shares one ``event_id``; up to 5
attempts, immediate, a non-2xx retried too; the SSRF check runs again at delivery. ``occurred_at``
is the wall-clock second the emulator noticed the event (the API's own timestamps follow the
virtual clock; a receiver checks freshness against its wall clock).

Emulator-only switches (``PUT /_emulator/webhooks``): ``allow_loopback`` accepts a loopback
receiver (http or https, any port), which real Coverbase refuses; ``redirect`` delivers what is
addressed to a registered public URL to another (loopback) URL instead; seeded
``duplicate_rate`` (a delivery sent twice) and ``reorder`` (each flush delivers in a shuffled
order). ``mode: manual`` holds deliveries until ``POST /_emulator/webhooks/flush`` (tests);
``auto`` delivers from a background thread.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import random
import threading
import time
import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.emulators.coverbase_errors import coded, invalid
from connector.emulators.coverbase_state import StoreState

CATALOG = frozenset({
    "Assessment.Created", "Assessment.AssigneeChanged", "Assessment.StatusChanged", "QuestionnaireResponse.Created",
    "QuestionnaireResponse.StatusChanged", "Review.StatusChanged", "WorkQueueItem.Created", "WorkQueueItem.Completed",
    "Vendor.Created", "Vendor.Updated", "Procurement.Created", "Procurement.StatusChanged", "Service.Created",
    "Service.Updated", "OrgIntake.QuestionnaireRemoved", "OrgIntake.Disabled", "IntakeSession.Created",
    "IntakeSession.Submitted",
})
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def new_id(prefix: str) -> str:
    """A random id: subscriptions, events and deliveries are not the store's records, so they do not
    take ids from its deterministic sequence."""
    return f"{prefix}_{uuid.uuid4().hex}"


class WebhookSettings(BaseModel):
    allow_loopback: bool = False
    redirect: dict[str, str] = Field(default_factory=dict)
    mode: Literal["manual", "auto"] = "auto"
    seed: int = 0
    duplicate_rate: float = Field(0.0, ge=0, le=1)
    reorder: bool = False
    timeout_seconds: float = 10.0
    max_attempts: int = 5


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: Any, *, allow_loopback: bool) -> str | None:
    """Why Coverbase refuses this receiver URL (``None``: accepted)."""
    if not isinstance(url, str) or not url:
        return "url must be a public HTTPS URL"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "url must be a public HTTPS URL"
    if parts.username or parts.password:
        return "url must not contain credentials"
    if allow_loopback and _is_loopback(host) and parts.scheme in ("http", "https"):
        return None  # the emulator's loopback receivers (never accepted by real Coverbase)
    if parts.scheme != "https":
        return "url must use https"
    if parts.port not in (None, 443):
        return "url must use the standard HTTPS port"
    if _is_loopback(host) or host == "metadata.google.internal":
        return "url must not point at a private, loopback, link-local or metadata address"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
        return "url must not point at a private, loopback, link-local or metadata address"
    return None


class WebhookHub:
    def __init__(self, store: StoreState, settings: WebhookSettings | None = None) -> None:
        self.store = store
        self.settings = settings or WebhookSettings()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []  # one row per attempt
        self.outbox: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._rng = random.Random(self.settings.seed)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._flush_lock = threading.Lock()

    # --- subscriptions ----------------------------------------------------------------------

    def view(self, w: dict) -> dict:
        attempts = [d for d in self.deliveries if d["webhook_id"] == w["id"]]
        ok = sum(1 for d in attempts if d["status"] == "delivered")
        return {"id": w["id"], "url": w["url"], "events": list(w["events"]), "description": w["description"],
                "enabled": w["enabled"], "created_at": w["created_at"],
                "last_delivery_status": attempts[-1]["status"] if attempts else None,
                "delivery_success_rate": round(ok / len(attempts), 4) if attempts else None,
                "delivery_count": len(attempts)}

    def _validate(self, body: dict, *, partial: bool) -> None:
        missing = [] if partial else [k for k in ("url", "events", "secret") if k not in body]
        if missing:
            raise invalid(*[(["body", k], "Field required", "missing") for k in missing])
        secret = body.get("secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise coded(400, "weak_secret", "Webhook secret must be at least 16 characters.")
        if body.get("url") is not None:
            why = url_problem(body["url"], allow_loopback=self.settings.allow_loopback)
            if why:
                raise coded(400, "invalid_url", f"Invalid webhook URL: {why}.")
        events = body.get("events")
        if events is not None:
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise invalid((["body", "events"], "Input should be a valid list", "list_type"))
            bad = sorted(set(events) - CATALOG)
            if bad or not events:
                raise coded(422, "invalid_event_types", f"Unsupported event type(s): {', '.join(bad) or '(none)'}")

    def create(self, org: str, body: dict) -> dict:
        self._validate(body, partial=False)
        w = {"id": new_id("cbwh"), "org": org, "url": body["url"], "events": list(body["events"]),
             "secret": body["secret"], "description": body.get("description"),
             "enabled": bool(body.get("enabled", True)), "created_at": self.store.now(), "archived": False}
        self.subscriptions[w["id"]] = w
        return self.view(w)

    def get(self, org: str, webhook_id: str) -> dict:
        w = self.subscriptions.get(webhook_id)
        if not w or w["org"] != org or w["archived"]:
            raise coded(404, "webhook_not_found", "Webhook not found.")
        return w

    def update(self, org: str, webhook_id: str, body: dict) -> dict:
        w = self.get(org, webhook_id)
        self._validate(body, partial=True)
        for k in ("url", "events", "secret", "description", "enabled"):
            if body.get(k) is not None:
                w[k] = body[k]
        return self.view(w)

    # --- events and deliveries --------------------------------------------------------------

    def emit(self, org: str, event_type: str, data: dict[str, Any], *, only: str | None = None,
             event_id: str | None = None) -> str:
        event = {"event_id": event_id or new_id("cbevt"), "event_type": event_type, "occurred_at": int(time.time()),
                 "data": {"event_type": event_type, **data}}
        with self._cond:
            for w in self.subscriptions.values():
                if w["org"] != org or w["archived"] or not w["enabled"]:
                    continue
                if only is not None and w["id"] != only:
                    continue
                if only is None and event_type not in w["events"]:
                    continue
                self.outbox.append({**event, "webhook_id": w["id"]})
            if self.outbox and self.settings.mode == "auto":
                self._ensure_thread()
                self._cond.notify_all()
        return event["event_id"]

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="coverbase-webhooks", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self.outbox or self._stopping, timeout=1.0)
                if self._stopping:
                    return
            self.flush()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def flush(self) -> list[dict[str, Any]]:
        """Deliver everything queued now (seeded order and duplicates); returns the attempts made."""
        with self._flush_lock:
            with self._cond:
                batch, self.outbox = self.outbox, []
            sends = []
            for item in batch:
                sends.append(item)
                if self.settings.duplicate_rate and self._rng.random() < self.settings.duplicate_rate:
                    sends.append(item)  # at least once: the same delivery again, later
            if self.settings.reorder:
                self._rng.shuffle(sends)
            out: list[dict[str, Any]] = []
            with httpx.Client(timeout=self.settings.timeout_seconds, follow_redirects=False) as http:
                for item in sends:
                    out.extend(self._deliver(http, item))
            return out

    def _deliver(self, http: httpx.Client, item: dict) -> list[dict[str, Any]]:
        w = self.subscriptions.get(item["webhook_id"])
        if w is None:
            return []
        payload = {k: item[k] for k in ("event_id", "event_type", "occurred_at", "data")}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Coverbase-Event-Id": item["event_id"],
                   "X-Coverbase-Event-Type": item["event_type"],
                   "Coverbase-Signature": hmac.new(w["secret"].encode(), raw, hashlib.sha256).hexdigest()}
        target = self.settings.redirect.get(w["url"], w["url"])
        attempts = []
        for _ in range(self.settings.max_attempts):
            row = {"id": new_id("cbwhd"), "webhook_id": w["id"], "event_id": item["event_id"],
                   "event_type": item["event_type"], "status": "error", "response_status": None,
                   "response_time_ms": None, "error": None, "payload": payload["data"],
                   "attempted_at": int(time.time()), "created_at": self.store.now()}
            why = None if target != w["url"] else url_problem(target, allow_loopback=self.settings.allow_loopback)
            if why:
                row["error"] = f"blocked: {why}"  # the SSRF check runs again at delivery time
                attempts.append(row)
                break
            t0 = time.monotonic()
            try:
                resp = http.post(target, content=raw, headers=headers)
                row.update(status="delivered", response_status=resp.status_code)
            except httpx.TimeoutException:
                row.update(status="timeout", error="timed out")
            except httpx.HTTPError as exc:
                row.update(error=type(exc).__name__)
            row["response_time_ms"] = round((time.monotonic() - t0) * 1000, 2)
            attempts.append(row)
            if row["response_status"] is not None and 200 <= row["response_status"] < 300:
                break  # a non-2xx is "delivered" too, and still retried
        self.deliveries.extend(attempts)
        return attempts

    def set_settings(self, patch: dict) -> WebhookSettings:
        self.settings = WebhookSettings.model_validate({**self.settings.model_dump(), **patch})
        self._rng = random.Random(self.settings.seed)
        return self.settings

    # --- routes -----------------------------------------------------------------------------

    def routes(self, api) -> list[Route]:
        s = self.store

        async def post_webhooks(c):
            with s.lock:
                return 201, self.create(c.org.id, c.body or {})

        async def get_webhooks(c):
            with s.lock:
                rows = [self.view(w) for w in self.subscriptions.values() if w["org"] == c.org.id and not w["archived"]]
            return 200, {"data": rows}

        async def patch_webhook(c):
            with s.lock:
                return 200, self.update(c.org.id, c.request.path_params["webhook_id"], c.body or {})

        async def delete_webhook(c):
            with s.lock:
                self.get(c.org.id, c.request.path_params["webhook_id"])["archived"] = True
            return 204, None

        async def post_webhook_test(c):
            body = c.body or {}
            with s.lock:
                w = self.get(c.org.id, c.request.path_params["webhook_id"])
            event_id = self.emit(c.org.id, str(body.get("event_type") or "webhook.test"),
                                 body.get("payload") if isinstance(body.get("payload"), dict) else {"test": True},
                                 only=w["id"], event_id=f"cbevt_test_{new_id('x')[2:]}")
            return 200, {"event_id": event_id, "delivered": True, "response_status": None, "response_time_ms": None,
                         "attempted_at": int(time.time())}

        async def get_webhook_deliveries(c):
            with s.lock:
                w = self.get(c.org.id, c.request.path_params["webhook_id"])
                rows = [d for d in self.deliveries if d["webhook_id"] == w["id"]][::-1]
            q = c.request.query_params
            try:
                limit, offset = int(q.get("limit", 50)), int(q.get("offset", 0))
            except ValueError:
                raise invalid((["query", "limit"], "Input should be a valid integer", "int_parsing")) from None
            limit, offset = min(100, max(1, limit)), max(0, offset)  # clamped, not rejected
            return 200, {"data": rows[offset: offset + limit], "total": len(rows), "limit": limit, "offset": offset}

        async def settings(request: Request) -> Response:
            if request.method == "PUT":
                self.set_settings(await request.json())
            return JSONResponse(self.settings.model_dump())

        async def flush(request: Request) -> Response:
            attempts = await run_in_threadpool(self.flush)
            return JSONResponse({"attempts": len(attempts),
                                 "delivered": sum(1 for a in attempts if a["status"] == "delivered")})

        return [
            api("/v1/webhooks", post_webhooks),
            api("/v1/webhooks", get_webhooks),
            api("/v1/webhooks/{webhook_id}", patch_webhook),
            api("/v1/webhooks/{webhook_id}", delete_webhook),
            api("/v1/webhooks/{webhook_id}/test", post_webhook_test),
            api("/v1/webhooks/{webhook_id}/deliveries", get_webhook_deliveries),
            Route("/_emulator/webhooks", settings, methods=["GET", "PUT"]),
            Route("/_emulator/webhooks/flush", flush, methods=["POST"]),
        ]
