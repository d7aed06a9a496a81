"""Asset checks: rejected share (blocking), drift against the ledger, duplicate external ids."""


import random
from collections import Counter

import dagster as dg

from assets.push import PUSH
from assets.resources import CoverbaseResource, LedgerResource
from connector.coverbase.errors import CoverbaseNotFound
from connector.sync.canonical import _norm

ENTITY_OF_ASSET = {name: entity for name, (entity, _, _) in PUSH.items()}
LEDGER_ENTITY = {"users": "user", "vendors": "vendor", "services": "service", "documents": "document",
                 "boms": "bom", "assessments": "assessment", "findings": "finding"}
COMPARED = ("name", "website", "description", "hq_location", "relationship_owner_ids")


def _rejected_share_check(asset_name: str):
    entity = LEDGER_ENTITY[ENTITY_OF_ASSET[asset_name]]

    @dg.asset_check(asset=dg.AssetKey(asset_name), name="rejected_share", blocking=True,
                    description=f"Fails, and stops downstream assets, when the share of rejected or invalid "
                                f"{entity} records is above thresholds.rejected_share.")
    def _check(ledger: LedgerResource) -> dg.AssetCheckResult:
        cfg = ledger.config()
        with ledger.open() as state:
            counts = Counter(r["status"] for r in state.db.query(
                "SELECT status FROM ledger WHERE entity = ?", [entity]))
        considered = sum(n for s, n in counts.items() if s != "skipped")
        bad = counts.get("rejected", 0) + counts.get("invalid", 0)
        share = bad / considered if considered else 0.0
        return dg.AssetCheckResult(
            passed=share <= cfg.thresholds.rejected_share,
            metadata={"rejected_or_invalid": bad, "records": considered, "share": round(share, 4),
                      "threshold": cfg.thresholds.rejected_share},
            description=f"{bad} of {considered} {entity} records rejected or invalid ({share:.1%})")

    return _check


@dg.asset_check(asset=dg.AssetKey("coverbase_vendors"), name="drift_against_ledger",
                description="Reads back a sample of synced vendors and compares them with what the ledger says was "
                            "sent: catches vendors edited or deleted by hand in Coverbase.")
def vendor_drift(coverbase: CoverbaseResource, ledger: LedgerResource) -> dg.AssetCheckResult:
    cfg = ledger.config()
    with ledger.open() as state:
        rows = [r for r in state.ledger("vendor", "servicenow").values() if r.status == "ok" and r.coverbase_id]
        rows += [r for r in state.ledger("vendor", "files").values() if r.status == "ok" and r.coverbase_id]
    sample = random.Random(0).sample(rows, min(len(rows), cfg.thresholds.drift_sample))
    drift: list[str] = []
    with coverbase.client() as cb:
        for row in sample:
            try:
                v = cb.get_vendor(row.coverbase_id)  # type: ignore[arg-type]
            except CoverbaseNotFound:
                drift.append(f"| `{row.source_key}` | {row.label} | deleted in Coverbase |")
                continue
            sent = row.payload or {}
            held = {"name": v.name, "website": v.website, "description": v.description, "hq_location": v.hq_location,
                    "relationship_owner_ids": v.relationship_owner_ids}
            fields = [f for f in COMPARED if f in sent and _norm(sent.get(f), f) != _norm(held.get(f), f)]
            if fields:
                drift.append(f"| `{row.source_key}` | {row.label} | changed: {', '.join(fields)} |")
    table = "| key | vendor | drift |\n|---|---|---|\n" + "\n".join(drift) if drift else "No drift in the sample."
    return dg.AssetCheckResult(passed=not drift, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"sampled": len(sample), "drifted": len(drift),
                                         "details": dg.MetadataValue.md(table)})


@dg.asset_check(asset=dg.AssetKey("coverbase_vendors"), name="no_duplicate_external_ids",
                description="Lists every Coverbase vendor: no external_id may appear twice (Coverbase does not "
                            "enforce it; a duplicate means something created a vendor twice).")
def no_duplicate_external_ids(coverbase: CoverbaseResource) -> dg.AssetCheckResult:
    with coverbase.client() as cb:
        counts = Counter(v.external_id for v in cb.iter_vendors() if v.external_id)
    dups = {k: n for k, n in counts.items() if n > 1}
    return dg.AssetCheckResult(passed=not dups, metadata={"vendors_with_external_id": sum(counts.values()),
                                                          "duplicated_external_ids": len(dups),
                                                          "examples": dg.MetadataValue.json(dict(list(dups.items())[:20]))})


asset_checks = [_rejected_share_check(name) for name in PUSH] + [vendor_drift, no_duplicate_external_ids]
