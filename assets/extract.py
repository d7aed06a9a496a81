"""Extraction assets: ServiceNow tables into the staging tables of the state DB.

Daily-partitioned on ``sys_updated_on``: a normal run (no partition) reads incrementally from
each table's watermark; a backfill over a range of days re-reads exactly those records and
flags them to be sent to Coverbase again, in one run (``BackfillPolicy.single_run()``).
"""


import dagster as dg

from assets.common import DAILY, EXTRACT_GROUP, extract_metadata, max_runtime_seconds, run_deadline, window_of
from assets.failures import dagster_failures
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from assets.settings_gate import require_settings
from assets.specs import EXTRACT
from connector.errors import ApiError
from connector.explain import servicenow_failure
from connector.progress import Progress


@dg.asset(group_name=EXTRACT_GROUP, kinds={"servicenow", "python"},
          description="Connectivity and configuration check at the start of every run: Coverbase authtest, a "
                      "ServiceNow read, and the configured tables and fields validated against the instance "
                      "dictionary. Fails fast, with the setting to fix.")
def preflight_checks(context: dg.AssetExecutionContext, coverbase: CoverbaseResource,
                     servicenow: ServiceNowResource, ledger: LedgerResource) -> dg.MaterializeResult:
    require_settings(coverbase, servicenow, ledger)  # every problem at once, before anything else
    cfg = ledger.config()
    with dagster_failures():
        max_runtime_seconds()
    deadline = run_deadline(context)
    cb_url = coverbase.check(deadline)
    info = servicenow.check(cfg, deadline)
    return dg.MaterializeResult(metadata={"coverbase": cb_url, "servicenow": info.get("instance", ""),
                                          "servicenow_auth": info.get("auth", ""),
                                          "mapping_file": ledger.config_path or "(defaults)",
                                          "skipped_optional_tables": info.get("skipped_optional_tables", "none")})


def _extraction_asset(name: str, streams: tuple[str, ...], description: str):
    @dg.asset(name=name, group_name=EXTRACT_GROUP, kinds={"servicenow"}, description=description,
              deps=[preflight_checks], partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext, coverbase: CoverbaseResource, servicenow: ServiceNowResource,
               ledger: LedgerResource, sync_options: SyncOptionsResource) -> dg.MaterializeResult:
        require_settings(coverbase, servicenow, ledger)  # a run of a subset may not include preflight_checks
        cfg = ledger.config()
        window = window_of(context)
        source = servicenow.source(cfg, run_deadline(context))
        state = ledger.open()
        # A fatal error is labelled by kind: a refused read says which grant is missing.
        explain = lambda e: servicenow_failure(e) if isinstance(e, ApiError) else str(e)  # noqa: E731
        try:
            with dagster_failures(name, explain=explain), Progress(name, log=context.log.info) as source.progress:
                stats = [source.extract(s, state, run_id=context.run_id, full_refresh=sync_options.full_refresh,
                                        window=window) for s in streams]
        finally:
            state.close()
            source.close()
        return dg.MaterializeResult(metadata=extract_metadata(stats, window))

    return _asset


extraction_assets = [_extraction_asset(spec.asset, spec.streams, spec.description) for spec in EXTRACT]
