"""The state of the emulated ServiceNow instance, and the operations on its records.

Tables (with ``sys_db_object`` / ``sys_dictionary`` built from ``sn_schema``, so the connector's
start-up validation reads the schema the Table API serves), attachment bytes, credentials, tokens,
fault settings and the request log. Insert, update and delete work as an admin's changes do:
fresh ``sys_updated_on``, a bumped ``sys_mod_count``, ``sys_audit_delete`` rows. The HTTP parts
(``sn_table_api``, ``sn_attachment_api``, ``sn_oauth``, ``sn_writes``, ``sn_admin``) work on it;
``servicenow_app.ServiceNowEmulator`` is this state with its app.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connector.emulators import sn_schema
from connector.emulators.faults import FaultRoller
from connector.emulators.sn_dataset_model import Blob, Dataset
from connector.emulators.sn_faults import ServiceNowFaults


def now_str() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class ServiceNowInstance:
    """The emulated instance's state: its records (tables and attachment bytes), credentials and
    tokens, fault settings and the request log, with the record operations every part uses."""

    def __init__(self, dataset: Dataset, *, username: str, password: str, client_id: str | None = None,
                 client_secret: str | None = None, token_ttl: int = 1800, faults: ServiceNowFaults | None = None,
                 display_tz: str = "America/Los_Angeles") -> None:
        self.ds = dataset
        self.tables = dataset.tables
        self.blobs: dict[str, Blob] = dataset.blobs
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl = token_ttl
        self.display_tz = ZoneInfo(display_tz)
        self.faults = faults or ServiceNowFaults()
        self.roller = FaultRoller(self.faults.seed)
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, float] = {}  # refresh token -> expiry (epoch seconds)
        self.token_grants: list[dict[str, Any]] = []  # every answer of /oauth_token.do, for tests and figures
        self.sessions: dict[str, int] = {}
        self.lock = threading.RLock()
        self.log: list[dict] = []
        self.order_rng = random.Random(self.faults.seed)  # the order of a list without ORDERBY
        self._build_schema_tables()

    # --- schema -----------------------------------------------------------------------------

    def _build_schema_tables(self) -> None:
        objs = self.tables.setdefault("sys_db_object", {})
        dic = self.tables.setdefault("sys_dictionary", {})
        ids = {name: hashlib.sha1(f"dbo|{name}".encode()).hexdigest()[:32] for name in sn_schema.TABLES}
        stamp = {"sys_created_on": "2024-01-01 00:00:00", "sys_updated_on": "2024-01-01 00:00:00",
                 "sys_created_by": "system", "sys_updated_by": "system", "sys_mod_count": "0"}
        for name, (label, parent, own) in sn_schema.TABLES.items():
            objs[ids[name]] = {"sys_id": ids[name], "name": name, "label": label,
                               "super_class": ids[parent] if parent else "", "sys_class_name": "sys_db_object", **stamp}
            cols = dict(own)
            if parent is None:
                cols = {**sn_schema.SYS_COLS, **own}
            for element, col in cols.items():
                sid = hashlib.sha1(f"dict|{name}|{element}".encode()).hexdigest()[:32]
                dic[sid] = {"sys_id": sid, "name": name, "element": element, "internal_type": col.type,
                            "reference": col.reference or "", "max_length": str(col.max_length),
                            "column_label": element.replace("_", " ").title(),
                            "sys_class_name": "sys_dictionary", **stamp}

    def table_types(self, table: str) -> dict[str, str]:
        return {k: c.type for k, c in sn_schema.columns(table).items()}

    # --- records ----------------------------------------------------------------------------

    def rows_of(self, table: str) -> list[dict[str, str]]:
        """A parent-table query returns the rows of every subclass too (sys_user -> vm_vdr_contact)."""
        out: list[dict[str, str]] = []
        for t in sn_schema.subclasses(table):
            out.extend(self.tables.get(t, {}).values())
        return out

    def find(self, table: str, sys_id: str) -> dict[str, str] | None:
        """The row with this sys_id in ``table`` or one of its subclasses."""
        for t in sn_schema.subclasses(table):
            row = self.tables.get(t, {}).get(sys_id)
            if row is not None:
                return row
        return None

    # --- admin (outside /api): mutate between runs ------------------------------------------

    def insert(self, table: str, fields: dict[str, str]) -> dict[str, str]:
        with self.lock:
            sid = fields.get("sys_id") or secrets.token_hex(16)
            ts = now_str()
            row = {"sys_id": sid, "sys_created_on": ts, "sys_created_by": "admin", "sys_updated_on": ts,
                   "sys_updated_by": "admin", "sys_mod_count": "0", "sys_class_name": table}
            row.update({k: str(v) for k, v in fields.items()})
            self.tables.setdefault(table, {})[sid] = row
            return row

    def update(self, table: str, sys_id: str, fields: dict[str, str]) -> dict[str, str] | None:
        with self.lock:
            row = self.find(table, sys_id)
            if row is None:
                return None
            row.update({k: str(v) for k, v in fields.items()})
            if "sys_updated_on" not in fields:
                row["sys_updated_on"] = now_str()
            row["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)
            return row

    def delete(self, table: str, sys_id: str) -> bool:
        with self.lock:
            for t in sn_schema.subclasses(table):
                row = self.tables.get(t, {}).pop(sys_id, None)
                if row is not None:
                    self.blobs.pop(sys_id, None)
                    self.insert("sys_audit_delete", {"tablename": row.get("sys_class_name", t), "documentkey": sys_id,
                                                     "display_value": row.get(sn_schema.display_field(t), ""),
                                                     "payload": "<xml/>"})
                    return True
            return False

    def add_attachment(self, table_name: str, table_sys_id: str, file_name: str, content: bytes,
                       content_type: str = "application/octet-stream", sys_id: str | None = None) -> dict[str, str]:
        row = self.insert("sys_attachment", {
            "sys_id": sys_id or secrets.token_hex(16), "file_name": file_name, "content_type": content_type,
            "size_bytes": str(len(content)), "size_compressed": str(len(content)), "compressed": "false",
            "table_name": table_name, "table_sys_id": table_sys_id, "hash": hashlib.sha256(content).hexdigest(),
            "state": "available", "chunk_size_bytes": "700000", "average_image_color": "", "image_width": "",
            "image_height": "", "sys_tags": ""})
        self.blobs[row["sys_id"]] = Blob(content=content)
        return row

    def set_faults(self, patch: dict) -> ServiceNowFaults:
        self.faults = ServiceNowFaults.model_validate({**self.faults.model_dump(), **patch})
        self.roller.reset(self.faults.seed)
        return self.faults
