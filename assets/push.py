"""Push assets: one per Coverbase entity, in dependency order, all in the writer pool."""


import dagster as dg

from assets.common import PUSH_GROUP, WRITER_POOL, engine_for, push_metadata
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from assets.settings_gate import require_settings
from connector.errors import ConfigError, FatalSyncError
from connector.sync.engine import PushOptions
from connector.sync.outcomes import is_fatal

PUSH = {
    # asset: (entity, upstream asset keys, description)
    "coverbase_users": ("users", ["sn_users", "sn_vendors", "sn_engagements", "sn_assessments"],
                        "People referenced by vendors, engagements and assessments, resolved to Coverbase user ids "
                        "with create-or-get (`POST /v1/users`)."),
    "coverbase_vendors": ("vendors", ["coverbase_users", "sn_vendors", "sn_vendor_contacts"],
                          "Vendors: idempotent create keyed by sys_id, external_id lookup, PATCH of changed fields."),
    "coverbase_services": ("services", ["coverbase_vendors", "sn_engagements"],
                           "Engagements as vendor services; never duplicated (read-back before and after creates)."),
    "coverbase_documents": ("documents", ["coverbase_services", "sn_attachments"],
                            "Attachments streamed into `POST /v1/documents`, content-addressed by sha256; deleted "
                            "attachments are archived."),
    "coverbase_boms": ("boms", ["coverbase_services", "sn_attachments"],
                       "CycloneDX / SPDX SBOMs (detected by content; schema findings are warnings) through the BOM "
                       "upload flow; Coverbase's parse status read back."),
    "coverbase_assessments": ("assessments", ["coverbase_documents", "coverbase_services", "sn_assessments"],
                              "Assessments started with idempotency keys derived from the source record; "
                              "cancelled ones archived."),
    "coverbase_findings": ("findings", ["coverbase_assessments", "sn_issues"],
                           "ServiceNow issues as findings on their assessment or vendor, exactly once (write-ahead "
                           "baseline, read-back after an ambiguous create); status and due date PATCHed; deleted or "
                           "cancelled ones archived."),
}


def _push_asset(name: str, entity: str, deps: list[str], description: str):
    @dg.asset(name=name, group_name=PUSH_GROUP, kinds={"coverbase"}, description=description,
              deps=[dg.AssetKey(d) for d in deps], pool=WRITER_POOL)
    def _asset(context: dg.AssetExecutionContext, coverbase: CoverbaseResource, servicenow: ServiceNowResource,
               ledger: LedgerResource, sync_options: SyncOptionsResource) -> dg.MaterializeResult:
        require_settings(coverbase, servicenow, ledger)  # a run of a subset may not include preflight_checks
        options = PushOptions(dry_run=sync_options.dry_run, allow_mass_changes=sync_options.allow_mass_changes,
                              retry_rejected=sync_options.retry_rejected)
        with engine_for(context, coverbase, servicenow, ledger) as engine:
            try:
                rep = engine.push(entity, run_id=context.run_id, options=options)
            except (FatalSyncError, ConfigError) as exc:
                raise dg.Failure(description=str(exc)) from None
            except Exception as exc:
                if is_fatal(exc):
                    raise dg.Failure(description=f"{entity}: {exc}") from None
                raise
        context.log.info(f"{entity}: " + ", ".join(f"{k} {v}" for k, v in rep.counts().items() if v))
        return dg.MaterializeResult(metadata=push_metadata(rep, options.dry_run))

    return _asset


push_assets = [_push_asset(name, entity, deps, desc) for name, (entity, deps, desc) in PUSH.items()]
