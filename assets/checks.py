"""Asset checks: rejected share (blocking), drift against the ledger, duplicate external ids."""


import random
from collections import Counter

import dagster as dg

from assets.resources import CoverbaseResource, LedgerResource
from assets.specs import PUSH
from connector.canonical import normalized
from connector.coverbase.errors import CoverbaseNotFound

LEDGER_ENTITY_OF_ASSET = {spec.asset: spec.ledger_entity for spec in PUSH}
COMPARED = ("name", "website", "description", "hq_location", "relationship_owner_ids")


COUNTED = ("created", "updated", "unchanged", "linked", "archived", "deferred", "invalid", "rejected", "transient")


def _metadata_value(md: dict, key: str, default=0):
    v = md.get(key)
    return default if v is None else getattr(v, "value", v)


def _rejected_share_check(asset_name: str):
    entity = LEDGER_ENTITY_OF_ASSET[asset_name]
    key = dg.AssetKey(asset_name)

    @dg.asset_check(asset=key, name="rejected_share", blocking=True,
                    description=f"The share of {entity} records this run rejected or found invalid. Warns above "
                                "thresholds.rejected_share once thresholds.rejected_min_records records were "
                                "considered; fails (and stops downstream assets) only with "
                                "thresholds.rejected_share_blocks: true.")
    def _check(context: dg.AssetCheckExecutionContext, ledger: LedgerResource) -> dg.AssetCheckResult:
        t = ledger.config().thresholds
        event = context.instance.get_latest_materialization_event(key)
        if event is None or event.run_id != context.run.run_id or event.asset_materialization is None:
            return dg.AssetCheckResult(passed=True, description=f"{asset_name} was not materialized in this run")
        md = event.asset_materialization.metadata
        counts = {k: int(_metadata_value(md, k)) for k in COUNTED}
        considered = sum(counts.values())
        bad = counts["rejected"] + counts["invalid"]
        share = bad / considered if considered else 0.0
        problems = [p for p in _metadata_value(md, "problems", []) if p.get("outcome") in ("rejected", "invalid")]
        named = "; ".join(f"{p['label']} ({p['key']}): {p['reason']}" for p in problems[:10])
        over = considered >= t.rejected_min_records and share > t.rejected_share
        summary = (f"{bad} of {considered} {entity} records rejected or invalid in this run ({share:.1%}; threshold "
                   f"{t.rejected_share:.0%} from {t.rejected_min_records} records)")
        if over and named:
            summary += f": {named}" + (" …" if len(problems) > 10 else "")
        return dg.AssetCheckResult(
            passed=not over,
            severity=dg.AssetCheckSeverity.ERROR if t.rejected_share_blocks else dg.AssetCheckSeverity.WARN,
            metadata={"rejected_or_invalid": bad, "records": considered, "share": round(share, 4),
                      "threshold": t.rejected_share, "min_records": t.rejected_min_records,
                      "blocks": t.rejected_share_blocks},
            description=summary)

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
            fields = [f for f in COMPARED if f in sent and normalized(sent.get(f), f) != normalized(held.get(f), f)]
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
                                                          "examples": dg.MetadataValue.json(
                                                              dict(list(dups.items())[:20]))})


asset_checks = [_rejected_share_check(spec.asset) for spec in PUSH] + [vendor_drift, no_duplicate_external_ids]
