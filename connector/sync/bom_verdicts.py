"""Coverbase's verdict on each uploaded BOM, read back and kept in the ledger.

Coverbase parses a BOM asynchronously (``parse_status``: ``pending`` -> ``parsing`` -> ``parsed``
with ``component_count`` | ``failed`` with ``parse_error`` | ``unsupported``; contract §2.4). After
the BOM push, every ledger row still ``pending``/``parsing`` (or uploaded before the ledger
kept verdicts) is read back: BOMs uploaded by this run up to ``boms.verdict_poll_rounds`` times,
``boms.verdict_poll_interval_seconds`` apart, earlier ones once; what is still unparsed is
read on the next run. Reads are per vendor, from the BOM history list (no component payloads),
and bounded by ``boms.verdict_reads_per_run``. A ``failed`` parse is reported and kept, never
re-uploaded: a new version of the attachment is what brings a new upload.

The verdict is compared with what the connector read in the file: a different component
count (CycloneDX: every ``components`` entry, nested included; SPDX: packages), format or spec
version is a warning in the run's metadata and the ledger's ``warnings``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connector.coverbase.models import Bom
from connector.errors import ApiError
from connector.state import LedgerRow, utcnow
from connector.sync.context import RunContext
from connector.sync.outcomes import OK, is_fatal
from connector.sync.report import EntityReport

UNSETTLED = (None, "pending", "parsing")
TERMINAL = ("parsed", "failed", "unsupported")


def verdict_warnings(row: LedgerRow, bom: Bom) -> list[str]:
    """What is worth a look in Coverbase's verdict, given what the connector read in the file."""
    status = bom.parse_status
    if status == "failed":
        return [f"Coverbase could not parse it: {bom.parse_error or 'no parse_error given'}"]
    if status == "unsupported":
        return ["Coverbase stores it but does not parse this format (parse_status unsupported; it parses "
                "CycloneDX and SPDX JSON), so its components are not listed in Coverbase"]
    if status != "parsed":
        return [] if status in UNSETTLED else [f"Coverbase reports an unknown parse_status {status!r}"]
    out = []
    if row.component_count is not None and bom.component_count != row.component_count:
        out.append(f"component count differs: Coverbase parsed {bom.component_count}, the file has "
                   f"{row.component_count} (CycloneDX components, nested included; SPDX packages)")
    if row.bom_format and bom.format and bom.format != "unknown" and bom.format != row.bom_format:
        out.append(f"format differs: Coverbase parsed {bom.format}, the file is {row.bom_format}")
    if row.bom_spec_version and bom.spec_version and bom.spec_version != row.bom_spec_version:
        out.append(f"spec version differs: Coverbase parsed {bom.spec_version}, the file says {row.bom_spec_version}")
    return out


def verdict_row(row: LedgerRow, bom: Bom) -> tuple[LedgerRow, list[str]]:
    """The ledger row with Coverbase's verdict, and the warnings it adds."""
    status = bom.parse_status
    new = verdict_warnings(row, bom)
    kept = json.loads(row.warnings) if row.warnings else []
    merged = kept + [w for w in new if w not in kept]
    changes: dict[str, Any] = {"parse_status": status, "updated_at": utcnow()}
    if status in TERMINAL:
        changes.update(parse_error=bom.parse_error if status == "failed" else None,
                       parsed_component_count=bom.component_count if status == "parsed" else None,
                       warnings=json.dumps(merged) if merged else None)
    return row.copy(**changes), new


def refresh_verdicts(ctx: RunContext, rep: EntityReport, *, fresh: set[str],
                     sleep: Callable[[float], None]) -> None:
    cfg = ctx.cfg.boms
    ctx.forget("bom")
    rows = [r for r in ctx.ledger("bom").values()
            if r.status == OK and r.coverbase_id and r.parent_id and r.parse_status in UNSETTLED]
    earlier = sorted((r for r in rows if r.source_key not in fresh), key=lambda r: r.updated_at)
    new = sorted((r for r in rows if r.source_key in fresh), key=lambda r: r.source_key)
    budget = cfg.verdict_reads_per_run
    todo = (earlier + (new if cfg.verdict_poll_rounds else []))[:budget]
    budget -= len(todo)
    for round_no in range(max(1, cfg.verdict_poll_rounds)):
        if not todo:
            return
        if round_no:
            sleep(cfg.verdict_poll_interval_seconds)
        unsettled = _read_round(ctx, rep, todo)
        todo = [r for r in unsettled if r.source_key in fresh][:budget]
        budget -= len(todo)


def _read_round(ctx: RunContext, rep: EntityReport, rows: list[LedgerRow]) -> list[LedgerRow]:
    """One read of each row's BOM (a history list per vendor); returns the rows still unsettled."""
    by_vendor: dict[str, list[LedgerRow]] = {}
    for r in rows:
        by_vendor.setdefault(r.parent_id or "", []).append(r)

    def read(vendor_id: str) -> dict[str, Bom] | None:
        """The wanted BOMs found in the vendor's history; None when it could not be read."""
        wanted = {r.coverbase_id for r in by_vendor[vendor_id]}
        found: dict[str, Bom] = {}
        try:
            for b in ctx.cb.iter_boms(vendor_id=vendor_id, include_archived=True):
                if b.id in wanted:
                    found[b.id] = b
                    if len(found) == len(wanted):
                        break
        except ApiError as exc:  # 404: the vendor is gone or the entitlement was switched off
            if is_fatal(exc):
                raise
            ctx.log.warning("reading BOM parse status for vendor %s failed: %s", vendor_id, exc)
            return None
        return found

    vendors = sorted(by_vendor)
    results = dict(zip(vendors, ctx.map(read, vendors)))
    updated: list[LedgerRow] = []
    unsettled: list[LedgerRow] = []
    for vid in vendors:
        found = results[vid]
        if found is None:
            continue  # read again next run
        for r in by_vendor[vid]:
            bom = found.get(r.coverbase_id or "")
            if bom is None:
                rep.warn(r.source_key, r.label or r.source_key, f"BOM {r.coverbase_id} is not in its vendor's "
                         "history in Coverbase (deleted by hand?); its parse status is unknown")
                continue
            row, warnings = verdict_row(r, bom)
            if bom.parse_status in TERMINAL:
                rep.notes[f"coverbase_parse_status_{bom.parse_status}"] += 1
            for w in warnings:
                rep.warn(r.source_key, r.label or r.source_key, w)
            if row.parse_status != r.parse_status or row.warnings != r.warnings:
                updated.append(row)
            if bom.parse_status not in TERMINAL:
                unsettled.append(row)
    if updated:
        with ctx.state.transaction():
            ctx.state.upsert_ledger(updated)
        ctx.forget("bom")
    return unsettled
