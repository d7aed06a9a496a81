"""Resolving source keys to Coverbase ids, with the reason when one cannot be resolved."""

from __future__ import annotations

from connector.sync.context import RunContext


class Refs:
    """Coverbase ids of one entity's records, and why the others have none (yet)."""

    def __init__(self, ctx: RunContext, entity: str, labels: dict[str, str], *, include_archived: bool = False) -> None:
        self.entity = entity
        self.ids = ctx.resolved(entity)
        if include_archived:  # still exists in Coverbase: links to it stay
            self.ids.update({k: r.coverbase_id for k, r in ctx.ledger(entity).items()
                             if r.status == "archived" and r.coverbase_id})
        self.ledger = ctx.ledger(entity)
        self.labels = labels
        # From the changelog: a ledger row rewritten this run (a changed message) carries this run's
        # id too, and taking such a record for new would skip the read-back that prevents duplicates.
        self.created_this_run = set() if ctx.dry_run else set(ctx.state.created_in_run(ctx.run_id, entity,
                                                                                         ctx.source_name))
        if ctx.dry_run:
            self.created_this_run |= {k for k, v in self.ids.items() if v.startswith("dry-run:")}

    def get(self, key: str | None) -> str | None:
        return self.ids.get(key) if key else None

    def why_not(self, key: str) -> str:
        label = self.labels.get(key)
        if label is None:
            return f"no such {self.entity} record ({key}) in the source"
        row = self.ledger.get(key)
        name = f"{label} ({key})"
        if row is None:
            return f"{self.entity} {name} has not been synced yet"
        detail = f": {row.error_message}" if row.error_message else ""
        return f"{self.entity} {name} is {row.status}{detail}"

    def resolve_many(self, keys: list[str]) -> tuple[list[str], list[str]]:
        """(ids, notes): unresolvable people are left out and said so; the record still syncs."""
        ids, notes = [], []
        for k in dict.fromkeys(keys):
            cid = self.get(k)
            if cid:
                ids.append(cid)
            else:
                notes.append(f"synced without {self.why_not(k).replace(' is ', ': ', 1)}"
                             if k in self.labels else f"synced without {k}: no such sys_user")
        return sorted(set(ids)), notes
