"""TPRM / GRC issues from ServiceNow: extraction of every configured issue table, and the mapping
of their rows to canonical issues.

The default table is ``source.tables.issues`` (``sn_vdr_risk_asmt_issue``); a mapping file may
add others as ``source.tables.issues_<name>`` (e.g. ``sn_grc_issue`` filtered to third parties),
with ``findings.columns.<table>`` naming their columns for the default fields. Each table has its
own staging stream (named like its key), cursor and deletion sweep; the ``issues`` stream of the
engine reads them all. A record read from two tables (a subclass) counts once, the default first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.canonical import CanonicalIssue
from connector.config import ISSUE_FIELDS, ConnectorConfig, TableSpec
from connector.errors import ConfigError
from connector.servicenow.models import RiskIssue
from connector.sources.base import StreamStats, Window
from connector.state import StagedRow, StateDB

if TYPE_CHECKING:
    from connector.sources.servicenow import ServiceNowSource

SOURCE = "servicenow"
STREAM = "issues"


def issue_specs(cfg: ConnectorConfig) -> list[tuple[str, TableSpec]]:
    """(stream, table spec) of every issue table, the default one first."""
    extra = sorted((k, s) for k, s in cfg.source.tables.items() if k.startswith("issues_"))
    return [(STREAM, cfg.source.tables[STREAM]), *extra]


def _check_columns(cfg: ConnectorConfig, key: str, spec: TableSpec) -> None:
    columns = cfg.findings.columns.get(spec.table, {})
    missing = [col for col in columns.values() if col not in spec.fields]
    if missing:
        raise ConfigError(f"findings.columns.{spec.table} names column(s) {', '.join(missing)}, which "
                          f"source.tables.{key}.fields does not read; add them to the fields")


def extract_issues(source: ServiceNowSource, state: StateDB, *, run_id: str | None, full_refresh: bool,
                   window: Window | None) -> StreamStats:
    stats = StreamStats(STREAM)
    for key, spec in issue_specs(source.cfg):
        if spec.table in source.skipped_tables:
            stats.warnings.append(f"optional table {spec.table} is not on this instance; skipped")
            continue
        _check_columns(source.cfg, key, spec)
        source.read_into(state, key, key, spec.table, spec.fields, spec.filter, attachments=False, run_id=run_id,
                          full_refresh=full_refresh, window=window, stats=stats)
        if source.cfg.findings.reconcile_deletions and window is None:
            source.sweep_deletions(state, key, spec.table, spec.filter, attachments=False, stats=stats)
    _refresh_company_refs(source, state, run_id)
    return stats


def _refresh_company_refs(source: ServiceNowSource, state: StateDB, run_id: str | None) -> None:
    """Issues may name a company that is not a vendor: fetch those few rows (as engagements do),
    so the outcome can say 'not a vendor' rather than 'not found'."""
    vendors = state.staged_keys("vendors", SOURCE)
    known = state.staged_keys("company_refs", SOURCE)
    wanted: set[str] = set()
    for key, spec in issue_specs(source.cfg):
        column = source.cfg.findings.columns.get(spec.table, {}).get("vendor", "vendor")
        for row in state.staged(key, SOURCE):
            ref = row.record.get(column)
            ref = ref.get("value") if isinstance(ref, dict) else ref
            if isinstance(ref, str) and ref and ref not in vendors and ref not in known:
                wanted.add(ref)
    source.stage_companies(state, wanted, run_id)


def _clean(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    return v or None


def map_issue(row: StagedRow, table: str, columns: dict[str, str]) -> CanonicalIssue:
    rec = row.record
    fields = {f: rec.get(columns.get(f, f)) for f in ISSUE_FIELDS}
    x = RiskIssue.model_validate({"sys_id": rec["sys_id"], "sys_updated_on": rec.get("sys_updated_on") or "",
                                  **{k: v for k, v in fields.items() if v is not None}})
    title = _clean(x.short_description)
    return CanonicalIssue(source=SOURCE, key=x.sys_id, label=title or _clean(x.number) or x.sys_id,
                          updated_on=x.sys_updated_on, force=row.force, table=table, number=_clean(x.number),
                          title=title, description=x.description, state=_clean(x.state),
                          priority=_clean(x.priority), due_date=_clean(x.due_date), vendor_key=x.vendor,
                          service_key=x.engagement, assessment_key=x.assessment, deleted=row.deleted_at is not None)


def snapshot_issues(state: StateDB, cfg: ConnectorConfig) -> dict[str, CanonicalIssue]:
    out: dict[str, CanonicalIssue] = {}
    for key, spec in issue_specs(cfg):
        columns = cfg.findings.columns.get(spec.table, {})
        for row in state.staged(key, SOURCE, include_deleted=True):
            if row.key in out and not (out[row.key].deleted and row.deleted_at is None):
                continue
            out[row.key] = map_issue(row, spec.table, columns)
    return out
