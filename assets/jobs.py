"""Jobs and the schedule.

- ``sync_all``: every asset and check, in process; per-run switches (dry run, mass changes,
  retry of rejected records, full refresh) under ``resources.sync_options`` in the Launchpad.
- ``migrate``: a one-off migration from ServiceNow or a file export, a dry run by default.
- ``sync_all_schedule``: hourly unless ``CONNECTOR_SYNC_CRON`` says otherwise; starts stopped
  unless ``CONNECTOR_SCHEDULE_ENABLED=1`` (turn it on in the UI once credentials are in place).
"""


import os
from typing import Literal

import dagster as dg
from pydantic import Field

from assets.common import WRITER_POOL, engine_for, push_metadata, run_tags
from assets.failures import dagster_failures
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource
from assets.settings_gate import require_settings
from connector import settings
from connector.sync.engine import PushOptions
from connector.sync.order import ENTITY_NAMES

sync_all = dg.define_asset_job(
    "sync_all", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor, tags=run_tags(),
    description="Extract ServiceNow into the staging tables and push users, vendors, services, documents, BOMs, "
                "assessments and findings to Coverbase, with the asset checks. Set "
                "resources.sync_options.config.dry_run to plan without writing.",
)

# A malformed CONNECTOR_SYNC_CRON must not stop the code location loading: hourly, and every run says so.
sync_all_schedule = dg.ScheduleDefinition(
    name="sync_all_schedule", job=sync_all, cron_schedule=settings.sync_cron(),
    default_status=dg.DefaultScheduleStatus.RUNNING if os.environ.get("CONNECTOR_SCHEDULE_ENABLED") == "1"
    else dg.DefaultScheduleStatus.STOPPED,
    description="Scheduled incremental sync (CONNECTOR_SYNC_CRON, hourly by default).",
)


class MigrateConfig(dg.Config):
    dry_run: bool = Field(True, description="Plan only: report creates, updates, archives and skips; write nothing.")
    entities: list[str] = Field(default_factory=lambda: list(ENTITY_NAMES),
                                description=f"Which entities to push, of {', '.join(ENTITY_NAMES)}.")
    full_refresh: bool = Field(False, description="Ignore the source cursors and read every record again.")
    source: Literal["servicenow", "files"] = Field("servicenow", description="Where the records come from.")
    path: str | None = Field(None, description="Folder of the file export (source: files).")
    allow_mass_changes: bool = Field(False, description="Let the circuit breaker through (mass archive/rewrite).")
    retry_rejected: bool = Field(False, description="Send records Coverbase rejected before, even if unchanged.")


def _source_for(config: MigrateConfig, servicenow: ServiceNowResource, ledger: LedgerResource):
    cfg = ledger.config()
    if config.source == "servicenow":
        return servicenow.source(cfg)
    from connector.sources.files import FileSource

    if not config.path:
        raise dg.Failure(description="migrate with source: files needs `path`, the folder of the export")
    return FileSource(config.path, cfg)


@dg.op(pool=WRITER_POOL, description="Runs a whole migration (extract, then every selected entity in order) and "
                                     "reports what it did, or would do in a dry run.")
def migrate_op(context: dg.OpExecutionContext, config: MigrateConfig, coverbase: CoverbaseResource,
               servicenow: ServiceNowResource, ledger: LedgerResource) -> dict:
    require_settings(coverbase, servicenow if config.source == "servicenow" else None, ledger)
    with dagster_failures():
        source = _source_for(config, servicenow, ledger)
        with engine_for(context, coverbase, servicenow, ledger, source=source) as engine:
            result = engine.run(run_id=context.run_id, entities=config.entities, full_refresh=config.full_refresh,
                                mode="migrate_dry_run" if config.dry_run else "migrate",
                                options=PushOptions(dry_run=config.dry_run,
                                                    allow_mass_changes=config.allow_mass_changes,
                                                    retry_rejected=config.retry_rejected))
    report = result.report
    for name, rep in report.entities.items():
        metadata = push_metadata(rep, config.dry_run)
        if config.dry_run:
            context.log_event(dg.AssetObservation(asset_key=dg.AssetKey(f"coverbase_{name}"), metadata=metadata))
        else:
            context.log_event(dg.AssetMaterialization(asset_key=dg.AssetKey(f"coverbase_{name}"), metadata=metadata))
    for line in report.summary_lines():
        context.log.info(line)
    return report.to_dict()


@dg.job(name="migrate", executor_def=dg.in_process_executor, tags=run_tags(),
        description="One-off migration from ServiceNow or a file export of another GRC tool. A dry run unless "
                    "`ops.migrate_op.config.dry_run` is false.")
def migrate() -> None:
    migrate_op()
