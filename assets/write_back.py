"""Write-back of Coverbase assessment outcomes into ServiceNow: the asset, its job and its sensor.

- ``servicenow_assessment_outcomes``: one work note per changed outcome (plus the mapped fields) on
  the assessment records this connector created; in the ``coverbase_writer`` pool, so it never runs
  beside a sync; a dry run reads only. Downstream of ``coverbase_assessments``, so ``sync_all`` closes
  the loop too when the write-back is enabled.
- ``write_back``: that asset alone, what the sensor launches (config: which records, dry run).
- ``coverbase_outcomes_sensor``: webhook nudges first, then a bounded round-robin poll of the
  assessments still in progress; requests a ``write_back`` run for the ones that changed. Stopped
  until switched on (or ``CONNECTOR_OUTCOMES_SENSOR_ENABLED=1``).
"""


import os

import dagster as dg
from pydantic import Field

from assets.common import WRITER_POOL, run_deadline, run_tags
from assets.failures import dagster_failures
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from assets.settings_gate import require_settings
from connector.coverbase.client import CoverbaseClient
from connector.http.retrying import RetrySettings
from connector.settings import outcomes_sensor_interval
from connector.writeback.engine import WriteBack
from connector.writeback.report import WriteBackReport
from connector.writeback.watch import watch

WRITE_BACK_GROUP = "servicenow_write_back"
ASSET = "servicenow_assessment_outcomes"


class WriteBackRunConfig(dg.Config):
    dry_run: bool = Field(False, description="Read and plan only: report the notes and fields that would be "
                                             "written; write nothing to ServiceNow or the ledger.")
    assessment_keys: list[str] = Field(default_factory=list, description="ServiceNow sys_ids of the assessment "
                                       "records to handle (the sensor fills this); empty: every record not settled.")
    retry_rejected: bool = Field(False, description="Send again what ServiceNow refused (403, 404) for an "
                                                    "unchanged outcome, e.g. after granting the role.")


def report_metadata(rep: WriteBackReport) -> dict:
    out: dict = dict(rep.counts())
    out.update({
        "notes_written": rep.notes_written, "fields_written": rep.fields_written, "conflicts": rep.conflict_count,
        "dropped_fields": rep.dropped_count, "recovered_writes": rep.recovered, "dry_run": rep.dry_run,
        "servicenow_calls": rep.servicenow_calls, "coverbase_calls": rep.coverbase_calls,
        "duration_s": dg.MetadataValue.float(rep.duration_s),
        "conflict_details": dg.MetadataValue.md(rep.markdown(rep.conflicts)),
        "dropped_details": dg.MetadataValue.md(rep.markdown(rep.dropped)),
        "problems": dg.MetadataValue.md(rep.markdown(rep.problems)),
    })
    if rep.dry_run:
        out["planned"] = dg.MetadataValue.json(dict(rep.planned))
        out["samples"] = dg.MetadataValue.json(rep.samples)
    return out


@dg.asset(name=ASSET, group_name=WRITE_BACK_GROUP, kinds={"servicenow"}, pool=WRITER_POOL,
          deps=[dg.AssetKey("coverbase_assessments")],
          description="Coverbase assessment outcomes written back to the ServiceNow assessment records this "
                      "connector created: one work note per change (status, score, findings, Coverbase id, time), "
                      "the mapped fields, human edits left alone and reported. Opt-in: write_back.enabled.")
def servicenow_assessment_outcomes(context: dg.AssetExecutionContext, config: WriteBackRunConfig,
                                   coverbase: CoverbaseResource, servicenow: ServiceNowResource,
                                   ledger: LedgerResource, sync_options: SyncOptionsResource) -> dg.MaterializeResult:
    require_settings(coverbase, servicenow, ledger)  # a write_back run may not include preflight_checks
    cfg = ledger.config()
    if not cfg.write_back.enabled:
        context.log.info("write-back is off (write_back.enabled: false in the mapping file): nothing to do")
        return dg.MaterializeResult(metadata={"enabled": False})
    dry_run = config.dry_run or sync_options.dry_run
    with dagster_failures("write-back"):
        state = ledger.open()
        deadline = run_deadline(context)
        cb = coverbase.client(cfg.sync, deadline)
        sn = servicenow.write_client(deadline)
        try:
            hint = ("SERVICENOW_WRITE_USERNAME / SERVICENOW_WRITE_PASSWORD" if servicenow.write_username
                    else "SERVICENOW_USERNAME / SERVICENOW_PASSWORD (no SERVICENOW_WRITE_USERNAME is set)")
            rep = WriteBack(state=state, coverbase=cb, servicenow=sn, config=cfg, log=context.log,
                            lock_wait_seconds=ledger.lock_wait_seconds, credentials_hint=hint,
                            deadline=deadline).run(
                run_id=context.run_id, keys=config.assessment_keys or None, dry_run=dry_run,
                retry_rejected=config.retry_rejected or sync_options.retry_rejected)
        finally:
            sn.close()
            cb.close()
            state.close()
    for line in rep.summary_lines():
        context.log.info(line)
    return dg.MaterializeResult(metadata={"enabled": True, **report_metadata(rep)})


write_back = dg.define_asset_job(
    "write_back", selection=[ASSET], executor_def=dg.in_process_executor, tags=run_tags(),
    description="Write Coverbase assessment outcomes back into ServiceNow (work notes, mapped fields). "
                "ops.servicenow_assessment_outcomes.config: dry_run, assessment_keys, retry_rejected.")

# A sensor tick must end well inside Dagster's evaluation timeout (60 s): short timeouts, one retry, and
# write_back.poll_budget_seconds checked between reads. What is not polled now is polled next tick.
SENSOR_RETRY = RetrySettings(max_retries=1, backoff_initial=0.5, backoff_max=2.0, max_total_wait=5.0,
                             rate_limit_default_wait=1.0)

_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED]


@dg.sensor(name="coverbase_outcomes_sensor", job=write_back,
           minimum_interval_seconds=outcomes_sensor_interval(),
           default_status=dg.DefaultSensorStatus.RUNNING if os.environ.get("CONNECTOR_OUTCOMES_SENSOR_ENABLED") == "1"
           else dg.DefaultSensorStatus.STOPPED,
           description="Acts on Coverbase webhook nudges at once, and polls GET /v1/assessments/{id} for the "
                       "assessments still in progress (write_back.poll_batch per tick, poll_rate_per_second); "
                       "requests a write_back run for the ones whose outcome changed.")
def coverbase_outcomes_sensor(context: dg.SensorEvaluationContext, coverbase: CoverbaseResource,
                              ledger: LedgerResource):
    cfg = ledger.config()
    if not cfg.write_back.enabled:
        return dg.SkipReason("write_back.enabled is false in the mapping file")
    active = context.instance.get_runs(filters=dg.RunsFilter(job_name="write_back", statuses=_ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"write_back run {active[0].run_id} is queued or running; its results come first")
    client = CoverbaseClient(coverbase.api_url, coverbase.api_key, timeout=10.0, max_concurrency=1,
                             rate_limit_per_second=cfg.write_back.poll_rate_per_second, retry=SENSOR_RETRY,
                             ca_bundle=coverbase.ca_bundle)
    with ledger.open() as state, client as cb:
        result = watch(state, cb, cfg)
    context.log.info(result.summary())
    if not result.keys:
        return dg.SkipReason(result.summary())
    return dg.RunRequest(
        run_config={"ops": {ASSET: {"config": {"assessment_keys": result.keys}}}},
        tags={"connector/trigger": "coverbase_outcomes_sensor", "connector/records": str(len(result.keys))})
