"""Extraction assets: ServiceNow tables into the staging tables of the state DB.

Daily-partitioned on ``sys_updated_on``: a normal run (no partition) reads incrementally from
each table's watermark; a backfill over a range of days re-reads exactly those records and
flags them to be sent to Coverbase again, in one run (``BackfillPolicy.single_run()``).
"""


import dagster as dg

from assets.common import DAILY, EXTRACT_GROUP, extract_metadata, max_runtime_seconds, run_deadline, window_of
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from assets.settings_gate import require_settings
from connector.progress import Progress
from connector.errors import ApiError, ConfigError
from connector.explain import servicenow_failure
from connector.sync.outcomes import is_fatal

STREAMS = {
    # asset name: (streams, description)
    "sn_users": (("users",), "ServiceNow `sys_user` rows: the people vendors, engagements and assessments reference."),
    "sn_vendors": (("vendors", "vendor_types"), "ServiceNow `core_company` rows with `vendor=true` (and the "
                   "`vendor_type` lookup used by the tag map)."),
    "sn_vendor_contacts": (("contacts",), "ServiceNow `vm_vdr_contact` rows: the primary contact of each vendor."),
    "sn_engagements": (("engagements",), "ServiceNow TPRM engagements (`sn_vdr_risk_asmt_vendor_engagement`), "
                       "plus the companies they point at that are not vendors."),
    "sn_assessments": (("assessments", "templates"), "ServiceNow TPRM assessments (`sn_vdr_risk_asmt_assessment`) "
                       "and their templates."),
    "sn_issues": (("issues",), "ServiceNow TPRM issues (`sn_vdr_risk_asmt_issue`, plus any `issues_<name>` tables of the "
                  "mapping); deletions are found by a full id sweep."),
    "sn_attachments": (("attachments",), "Attachment metadata of vendors, engagements and assessments; new or "
                       "changed files are probed to tell SBOMs (by content) from documents; deletions are found "
                       "by a full id sweep."),
}


@dg.asset(group_name=EXTRACT_GROUP, kinds={"servicenow", "python"},
          description="Connectivity and configuration check at the start of every run: Coverbase authtest, a "
                      "ServiceNow read, and the configured tables and fields validated against the instance "
                      "dictionary. Fails fast, with the setting to fix.")
def preflight_checks(context: dg.AssetExecutionContext, coverbase: CoverbaseResource,
                     servicenow: ServiceNowResource, ledger: LedgerResource) -> dg.MaterializeResult:
    require_settings(coverbase, servicenow, ledger)  # every problem at once, before anything else
    cfg = ledger.config()
    try:
        max_runtime_seconds()
    except ConfigError as exc:
        raise dg.Failure(description=str(exc)) from None
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
        try:
            with Progress(name, log=context.log.info) as source.progress:  # long reads: done / total, rate, ETA
                stats = [source.extract(s, state, run_id=context.run_id, full_refresh=sync_options.full_refresh,
                                        window=window) for s in streams]
        except Exception as exc:
            if is_fatal(exc):  # labelled by kind: a refused read says which grant is missing
                raise dg.Failure(description=f"{name}: {servicenow_failure(exc) if isinstance(exc, ApiError) else exc}"
                                 ) from None
            raise
        finally:
            state.close()
            source.close()
        return dg.MaterializeResult(metadata=extract_metadata(stats, window))

    return _asset


extraction_assets = [_extraction_asset(name, streams, desc) for name, (streams, desc) in STREAMS.items()]
