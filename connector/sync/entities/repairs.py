"""Carry a record's repairs (``Canonical.repairs``) to the ledger, its message and the report.

The source mapping repairs a record and says so; the entity puts that list in the ledger's
``repairs`` column (JSON) and the record's message, and the run report lists it (Dagster
metadata ``repairs``).
"""

from __future__ import annotations

import json

from connector.canonical import Canonical
from connector.sync.context import RunContext
from connector.sync.entities.base import Item
from connector.sync.outcomes import WRITE_ACTIONS


def note_repairs(ctx: RunContext, report_name: str, item: Item, record: Canonical | None) -> None:
    """Carry a record's repairs to its ledger row, its message and (when it is written) the report."""
    repairs = list(record.repairs) if record is not None else []
    item.data.setdefault("ledger", {})["repairs"] = json.dumps(repairs) if repairs else None
    if not repairs:
        return
    if item.action in WRITE_ACTIONS:
        item.notes[:0] = repairs
        rep = ctx.report.entity(report_name)
        for text in repairs:
            rep.repaired(item.key, item.label, text)
