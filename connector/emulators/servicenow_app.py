"""The ServiceNow emulator as one Starlette app (servicenow.md "Emulator checklist"): its parts put together.

``ServiceNowInstance`` (``sn_instance.py``) is the state; every ``/api`` route goes through the
gateway (``sn_gateway.py``: auth, session queueing, seeded faults, request log); the Table API
reads (``sn_table_api.py``), writes (``sn_writes.py``), the Attachment API (``sn_attachment_api.py``),
OAuth (``sn_oauth.py``) and the admin routes (``sn_admin.py``) each have their own module. The CLI
entry is ``servicenow.py``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from connector.emulators import sn_admin, sn_attachment_api, sn_oauth, sn_table_api
from connector.emulators.sn_dataset_model import Dataset
from connector.emulators.sn_faults import ServiceNowFaults
from connector.emulators.sn_gateway import Gateway
from connector.emulators.sn_instance import ServiceNowInstance
from connector.emulators.sn_responses import CANCELLED
from connector.emulators.sn_writes import TableWrites

__all__ = ["CANCELLED", "ServiceNowEmulator", "ServiceNowFaults"]


class ServiceNowEmulator(ServiceNowInstance):
    def __init__(self, dataset: Dataset, *, username: str, password: str, client_id: str | None = None,
                 client_secret: str | None = None, token_ttl: int = 1800, faults: ServiceNowFaults | None = None,
                 display_tz: str = "America/Los_Angeles") -> None:
        super().__init__(dataset, username=username, password=password, client_id=client_id,
                         client_secret=client_secret, token_ttl=token_ttl, faults=faults, display_tz=display_tz)
        self.writes = TableWrites(self)  # PATCH/PUT, journals, write ACLs and faults (sn_writes.py)
        self.guarded = Gateway(self, self.writes)
        self.app = Starlette(routes=self._routes())

    def _routes(self) -> list[Route]:
        # Reads and writes share paths: Starlette takes the first route whose path and method match.
        return [
            *sn_table_api.routes(self, self.writes, self.guarded),
            *sn_attachment_api.routes(self, self.guarded),
            *sn_oauth.routes(self),
            *self.writes.routes(self.guarded),
            *sn_admin.routes(self),
        ]
