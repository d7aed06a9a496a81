"""The Coverbase emulator as one Starlette app: its parts put together.

The store (``coverbase_store.py``) holds state and rules; every ``/v1`` route goes through the
dispatcher (``coverbase_dispatch.py``: auth, faults, idempotency, request log); the routes come
one module per resource (``coverbase_routes_*.py``), plus webhooks and assessment progress, which
keep their own state. The CLI entry is ``coverbase.py``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from connector.emulators import (
    coverbase_routes_admin,
    coverbase_routes_assessments,
    coverbase_routes_boms,
    coverbase_routes_documents,
    coverbase_routes_findings,
    coverbase_routes_users,
    coverbase_routes_vendors,
)
from connector.emulators.coverbase_dispatch import Dispatcher
from connector.emulators.coverbase_faults import CoverbaseFaults, FaultInjector
from connector.emulators.coverbase_progress import AssessmentProgress
from connector.emulators.coverbase_store import CoverbaseStore
from connector.emulators.coverbase_webhooks import WebhookHub

__all__ = ["CoverbaseEmulator", "CoverbaseFaults"]


class CoverbaseEmulator:
    def __init__(self, api_keys: list[str], *, foreign_api_key: str | None = None,
                 faults: CoverbaseFaults | None = None, bom_entitled: bool = True,
                 idempotency_scope: str = "path", findings_text: bool = False) -> None:
        self.store = CoverbaseStore({}, idempotency_scope=idempotency_scope)
        self.store.finding_rules.include_text = findings_text  # title/body are not in the documented object
        main, foreign = list(self.store.orgs)
        for key in api_keys:
            self.store.api_keys[key] = main
        if foreign_api_key:
            self.store.api_keys[foreign_api_key] = foreign
        self.store.main_org.bom_entitled = bom_entitled
        self.fault_injector = FaultInjector(faults)
        # Webhook subscriptions/deliveries, and assessments moving over virtual time (their own modules).
        self.webhooks = WebhookHub(self.store)
        self.progress = AssessmentProgress(self.store, self.webhooks.emit)
        self.api = Dispatcher(self.store, self.fault_injector, before_request=self.progress.tick)
        self.log = self.api.log
        self.app = Starlette(routes=self._routes())

    @property
    def faults(self) -> CoverbaseFaults:
        return self.fault_injector.settings

    def set_faults(self, patch: dict) -> CoverbaseFaults:
        return self.fault_injector.set(patch)

    def _routes(self) -> list[Route]:
        api, s = self.api, self.store
        # Order matters where paths overlap (Starlette takes the first match): each module lists its
        # literal paths before its parameterised ones.
        return [
            *coverbase_routes_users.routes(api, s),
            *coverbase_routes_vendors.routes(api, s),
            *coverbase_routes_documents.routes(api, s),
            *coverbase_routes_boms.routes(api, s),
            *coverbase_routes_assessments.routes(api, s, self.progress),
            *coverbase_routes_findings.routes(api, s),
            *self.webhooks.routes(api),
            *self.progress.routes(),
            *coverbase_routes_admin.routes(s, self.fault_injector, self.log, self.progress),
        ]
