"""The entities and the order they run in, derived from what each one declares it depends on.

Each ``EntitySync`` names the entities whose Coverbase ids it needs (``depends_on``); this module
sorts them with ``graphlib`` (a cycle is an error at import time, not a wrong order at run time).
The engine's order, the push assets' dependencies and the checks' map of entities all come from
here, so adding an entity is one class and one line in ``ENTITIES``.
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from connector.sync.entities.assessments import AssessmentsSync
from connector.sync.entities.base import EntitySync
from connector.sync.entities.boms import BomsSync
from connector.sync.entities.documents import DocumentsSync
from connector.sync.entities.findings import FindingsSync
from connector.sync.entities.services import ServicesSync
from connector.sync.entities.users import UsersSync
from connector.sync.entities.vendors import VendorsSync

# Every entity, in the order to prefer when two may run at the same point (documents before BOMs).
ENTITIES: tuple[type[EntitySync], ...] = (UsersSync, VendorsSync, ServicesSync, DocumentsSync, BomsSync,
                                          AssessmentsSync, FindingsSync)


def dependency_order(classes: tuple[type[EntitySync], ...]) -> tuple[type[EntitySync], ...]:
    """``classes`` sorted so each comes after what it depends on; ties keep the declared order."""
    by_name = {c.name: c for c in classes}
    unknown = {d for c in classes for d in c.depends_on if d not in by_name}
    if unknown:
        raise ValueError(f"entities depend on unknown entities {sorted(unknown)}")
    rank = {c.name: i for i, c in enumerate(classes)}
    sorter = TopologicalSorter({c.name: c.depends_on for c in classes})
    sorter.prepare()  # raises graphlib.CycleError on a dependency cycle
    out: list[type[EntitySync]] = []
    while sorter.is_active():
        for name in sorted(sorter.get_ready(), key=rank.__getitem__):
            out.append(by_name[name])
            sorter.done(name)
    return tuple(out)


ORDER = dependency_order(ENTITIES)
ENTITY_NAMES = tuple(cls.name for cls in ORDER)
BY_NAME = {cls.name: cls for cls in ORDER}
LEDGER_ENTITY = {cls.name: cls.entity for cls in ORDER}  # report name -> ledger entity
