"""Deterministic TPRM dataset for the ServiceNow emulator, with the dirty cases real instances have.

``build("small")`` (tests), ``build("medium")`` (crash tests), ``build("reference")`` (benchmarks:
1,000+ vendors, 2,500 engagements, 5,000 users of which ~2,000 referenced, 3,000 attachments,
100 SBOMs, 800 assessments). Same name, same seed → byte-identical data.

Every dirty case is registered in ``Dataset.dirty`` with the outcome the connector must give
it; docs/dirty-cases.md is generated from that list and the sync tests assert it.

The generator runs in stages, one module each, over one shared state (``sn_dataset_generator``):
users, vendors and contacts, engagements and assessments, attachments, issues.
What a dataset is (``Dataset``, ``Blob``, ``DirtyCase``, ``SIZES``) lives in ``sn_dataset_model``;
the names tests and tools import from here are re-exported.
"""

from __future__ import annotations

from connector.emulators import sn_dataset_issues
from connector.emulators.sn_dataset_attachments import attachments
from connector.emulators.sn_dataset_engagements import assessments, engagements
from connector.emulators.sn_dataset_generator import Generator
from connector.emulators.sn_dataset_model import BULK_TS, SIZES, Blob, Dataset
from connector.emulators.sn_dataset_users import lookups, users
from connector.emulators.sn_dataset_vendors import companies, contacts

__all__ = ["BULK_TS", "SIZES", "Blob", "Dataset", "build"]


def _shared_timestamps(g: Generator) -> None:
    g.dirty("D45", "vendor", "core_company", "*", f"hundreds of rows share sys_updated_on {BULK_TS}", "ok", "")


def build(name: str = "small", seed: int = 7) -> Dataset:
    if name not in SIZES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(SIZES)}")
    g = Generator(name, seed)
    lookups(g)
    users(g)
    companies(g)
    contacts(g)
    engagements(g)
    assessments(g)
    attachments(g)
    _shared_timestamps(g)
    sn_dataset_issues.generate(g)  # issues and their dirty cases: last, from their own random stream
    return g.ds
