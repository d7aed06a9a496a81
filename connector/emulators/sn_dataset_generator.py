"""The dataset generator's shared state and helpers (ids, timestamps, system fields, dirty cases)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from connector.emulators.sn_dataset_model import BASE, BULK_TS, SIZES, SPAN_SECONDS, Dataset, DirtyCase, fmt


class Generator:
    """The state one dataset build carries from stage to stage, and the helpers every stage uses.

    The stages (``sn_dataset_users``, ``_vendors``, ``_engagements``, ``_attachments``, ``_issues``)
    run in a fixed order, drawing from one seeded random stream (issues from their own): the same
    name and seed give the same dataset.
    """

    def __init__(self, name: str, seed: int) -> None:
        self.sizes = SIZES[name]
        self.seed = seed
        self.rng = random.Random(f"{seed}:{name}")
        self.ds = Dataset(name, seed)
        self.user_cursor = 0
        # Filled by the stages, in order; later stages build on what earlier ones made.
        self.pool: list[str] = []  # referenced users (sn_dataset_users)
        self.vendors: list[str] = []  # core_company rows that are vendors (sn_dataset_vendors) ...
        self.non_vendors: list[str] = []  # ... and those that are not
        self.engagement_ids: list[str] = []  # sn_dataset_engagements
        self.engagements_of: dict[str, list[str]] = {}
        self.assessment_ids: list[str] = []
        self.issue_ids: list[str] = []  # sn_dataset_issues

    def sid(self, table: str, i: int | str) -> str:
        return hashlib.sha1(f"{self.seed}|{table}|{i}".encode()).hexdigest()[:32]

    def times(self, bulk: bool = False) -> tuple[str, str]:
        created = BASE + timedelta(seconds=self.rng.randrange(SPAN_SECONDS))
        if bulk:
            return fmt(min(created, datetime(2026, 10, 5, 12, tzinfo=UTC))), BULK_TS
        updated = created + timedelta(seconds=self.rng.randrange(0, 5 * 24 * 3600))
        return fmt(created), fmt(min(updated, BASE + timedelta(seconds=SPAN_SECONDS)))

    def sys(self, table: str, sys_id: str, bulk: bool = False, cls: str | None = None) -> dict[str, str]:
        created, updated = self.times(bulk)
        return {"sys_id": sys_id, "sys_created_on": created, "sys_created_by": "admin", "sys_updated_on": updated,
                "sys_updated_by": "import" if bulk else "admin", "sys_mod_count": str(self.rng.randint(0, 4)),
                "sys_class_name": cls or table}

    def dirty(self, code: str, entity: str, table: str, sys_id: str, what: str, status: str, reason: str = "") -> None:
        # Codes are numbered in registration order; the literal at the call site is only a reading aid.
        code = f"D{len(self.ds.dirty) + 1:02d}"
        self.ds.dirty.append(DirtyCase(code, entity, table, sys_id, what, status, reason))

    def next_user(self) -> str:
        # Round-robin over the clean part of the pool first, so ~all of it ends up referenced.
        clean = self.pool[9:]
        u = clean[self.user_cursor % len(clean)]
        self.user_cursor += 1
        return u
