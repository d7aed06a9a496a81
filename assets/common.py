"""Shared pieces of the code location: partitions, the engine factory, report → metadata."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource
from connector import settings
from connector.deadline import SETTING as MAX_RUNTIME_SETTING
from connector.deadline import Deadline
from connector.errors import ConfigError
from connector.sources.base import StreamStats, Window
from connector.sync.engine import SyncEngine
from connector.sync.report import EntityReport

# Backfills re-read a range of ``sys_updated_on`` days. The current day is a partition too
# (end_offset=1), so "today's changes" can be re-sent after a mapping fix.
DAILY = dg.DailyPartitionsDefinition(start_date=settings.partitions_start(),  # a bad value: the default, and
                                     end_offset=1)                            # every run says so
WRITER_POOL = "coverbase_writer"
MAX_RUNTIME_TAG = "dagster/max_runtime"  # Dagster's run monitoring terminates a run past it
DEFAULT_MAX_RUNTIME = 7200


def max_runtime_seconds() -> int:
    """``CONNECTOR_MAX_RUNTIME`` (seconds), default two hours. A bad value is a configuration error."""
    raw = os.environ.get(MAX_RUNTIME_SETTING, "").strip()
    if not raw:
        return DEFAULT_MAX_RUNTIME
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigError(f"{MAX_RUNTIME_SETTING}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{MAX_RUNTIME_SETTING} must be a positive number of seconds, not {raw!r}")
    return value


def run_tags() -> dict[str, str]:
    """Tags of the writing jobs: the maximum runtime Dagster's run monitoring enforces. Read when
    the code location loads: a bad value falls back to the default here (loading must not fail)
    and fails the run's preflight with the setting to fix."""
    try:
        return {MAX_RUNTIME_TAG: str(max_runtime_seconds())}
    except ConfigError:
        return {MAX_RUNTIME_TAG: str(DEFAULT_MAX_RUNTIME)}


def run_deadline(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> Deadline:
    """The run's deadline, enforced inside the run too (``dagster job execute`` has no daemon to
    terminate it): the run's start time plus its ``dagster/max_runtime`` tag (else the setting)."""
    raw = (context.run.tags or {}).get(MAX_RUNTIME_TAG)
    try:
        seconds = float(raw) if raw else float(max_runtime_seconds())
    except ValueError:
        seconds = float(max_runtime_seconds())
    record = context.instance.get_run_record_by_id(context.run_id)
    started = record.start_time if record is not None and record.start_time else time.time()
    d = Deadline(max(0.0, started + seconds - time.time()))
    d.seconds = seconds  # report the configured maximum, not what was left when this step began
    return d
EXTRACT_GROUP = "servicenow_extract"
PUSH_GROUP = "coverbase_push"


@dataclass
class Wiring:
    engine: SyncEngine

    def close(self) -> None:
        self.engine.cb.close()
        self.engine.source.close()
        self.engine.state.close()


@contextmanager
def engine_for(context: dg.AssetExecutionContext | dg.OpExecutionContext, coverbase: CoverbaseResource,
               servicenow: ServiceNowResource, ledger: LedgerResource, *, source=None) -> Iterator[SyncEngine]:
    cfg = ledger.config()
    w = Wiring(SyncEngine(state=ledger.open(), coverbase=coverbase.client(cfg.sync),
                          source=source or servicenow.source(cfg), config=cfg, log=context.log,
                          lock_wait_seconds=ledger.lock_wait_seconds, deadline=run_deadline(context)))
    try:
        yield w.engine
    finally:
        w.close()


def window_of(context: dg.AssetExecutionContext) -> Window | None:
    """The backfill window of this run, or None for an incremental run."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return None
    tw = context.partition_time_window
    return Window(tw.start.strftime("%Y-%m-%d %H:%M:%S"), tw.end.strftime("%Y-%m-%d %H:%M:%S"))


def extract_metadata(stats: list[StreamStats], window: Window | None) -> dict:
    out: dict = {}
    for s in stats:
        for k, v in s.as_metadata().items():
            out[k] = out.get(k, 0) + v
    out["mode"] = f"backfill {window.start} .. {window.end}" if window else "incremental"
    warnings = [w for s in stats for w in s.warnings]
    if warnings:
        out["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings))
    return out


def push_metadata(rep: EntityReport, dry_run: bool) -> dict:
    counts = rep.counts()
    out: dict = {k: counts.get(k, 0) for k in ("created", "updated", "unchanged", "archived", "deferred", "invalid",
                                                "rejected", "skipped", "linked", "transient")}
    out.update({
        "api_calls": rep.api_calls,
        "duration_s": dg.MetadataValue.float(rep.duration_s),
        "dry_run": dry_run,
        "planned": dg.MetadataValue.json(dict(rep.planned)),
        "rejected_records": dg.MetadataValue.md(rep.problems_markdown()),
        # The same records as data, for the rejected_share check and for tools reading the event log.
        "problems": dg.MetadataValue.json([p.__dict__ for p in rep.problems]),
    })
    for kind in sorted(rep.attention):  # e.g. findings awaiting confirmation, changes not propagated
        out[kind] = len(rep.attention[kind])
        out[f"{kind}_records"] = dg.MetadataValue.md(rep.attention_markdown(kind))
    if rep.warning_count:  # advice: delivered, but worth a look (BOM schema findings, Coverbase's parse verdict)
        out["warnings"] = dg.MetadataValue.md(rep.notes_markdown(rep.warnings, rep.warning_count, "warning"))
    if rep.repair_count:  # repaired rather than refused (file names, empty names); originals are in the ledger
        out["repairs"] = dg.MetadataValue.md(rep.notes_markdown(rep.repairs, rep.repair_count, "repair"))
    if dry_run:
        out["samples"] = dg.MetadataValue.json(rep.samples)
    return out
