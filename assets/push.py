"""Push assets: one per Coverbase entity, in dependency order, all in the writer pool."""


import dagster as dg

from assets.common import PUSH_GROUP, WRITER_POOL, engine_for, push_metadata
from assets.failures import dagster_failures
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from assets.settings_gate import require_settings
from assets.specs import PUSH, PushSpec
from connector.sync.engine import PushOptions


def _push_asset(spec: PushSpec):
    entity = spec.entity

    @dg.asset(name=spec.asset, group_name=PUSH_GROUP, kinds={"coverbase"}, description=spec.description,
              deps=[dg.AssetKey(d) for d in spec.deps], pool=WRITER_POOL)
    def _asset(context: dg.AssetExecutionContext, coverbase: CoverbaseResource, servicenow: ServiceNowResource,
               ledger: LedgerResource, sync_options: SyncOptionsResource) -> dg.MaterializeResult:
        require_settings(coverbase, servicenow, ledger)  # a run of a subset may not include preflight_checks
        options = PushOptions(dry_run=sync_options.dry_run, allow_mass_changes=sync_options.allow_mass_changes,
                              retry_rejected=sync_options.retry_rejected)
        with dagster_failures(entity), engine_for(context, coverbase, servicenow, ledger) as engine:
            rep = engine.push(entity, run_id=context.run_id, options=options)
        context.log.info(f"{entity}: " + ", ".join(f"{k} {v}" for k, v in rep.counts().items() if v))
        return dg.MaterializeResult(metadata=push_metadata(rep, options.dry_run))

    return _asset


push_assets = [_push_asset(spec) for spec in PUSH]
