"""ServiceNow as a source: keyset extraction into staging, content probes, deletion sweeps."""

from __future__ import annotations

import logging
from typing import BinaryIO

from connector.canonical import CanonicalAttachment, Snapshot
from connector.config import ConnectorConfig
from connector.deadline import Deadline
from connector.errors import ConfigError
from connector.files.content import needs_probe
from connector.progress import NullProgress, Progress
from connector.servicenow.attachments import Downloaded, download
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.reader import Cursor, ReadStats, TableReader, incremental_since
from connector.servicenow.schema import fields_in_query, table_problems
from connector.sources.attachment_probe import ProbeFailed, probe_attachment
from connector.sources.base import StreamStats, Window
from connector.sources.servicenow_issues import extract_issues
from connector.sources.servicenow_mapping import SOURCE, build_snapshot
from connector.state import StateDB
from connector.workers import run_all

log = logging.getLogger(__name__)

TABLE_STREAMS = ("users", "vendors", "contacts", "engagements", "assessments", "templates", "vendor_types", "issues")


class ServiceNowSource:
    name = SOURCE
    streams = (*TABLE_STREAMS, "attachments")

    def __init__(self, client: ServiceNowClient, config: ConnectorConfig) -> None:
        self.client = client
        self.cfg = config
        self.reader = TableReader(client, page_size=config.source.page_size)
        self.skipped_tables: set[str] = set()
        self.deadline = Deadline.never()
        self.progress: Progress = NullProgress()  # the step's progress (connector/progress.py), set by its owner

    def close(self) -> None:
        self.client.close()

    def set_deadline(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.client.set_deadline(deadline)

    # --- check ------------------------------------------------------------------------------

    def check(self) -> dict[str, str]:
        """A cheap authenticated read, then the schema validation (fatal errors explain themselves)."""
        self.client.get_json("/api/now/table/sys_user", {"sysparm_limit": 1, "sysparm_fields": "sys_id"})
        info = {"instance": self.client.instance_url, "auth": self.client.credentials.kind}
        if not self.cfg.source.validate_schema:
            return info
        required: dict[str, set[str]] = {"sys_attachment": {"file_name", "table_name", "table_sys_id", "size_bytes"}}
        optional: dict[str, set[str]] = {}
        for spec in self.cfg.source.tables.values():
            target = optional if spec.optional else required
            target.setdefault(spec.table, set()).update(spec.fields, fields_in_query(spec.filter))
        wanted = {t: set(f) for t, f in optional.items()}
        for t, f in required.items():
            wanted.setdefault(t, set()).update(f)
        _, problems = table_problems(self.client, wanted)
        fatal = [p for t in sorted(problems) if t in required for p in problems[t]]
        if fatal:
            raise ConfigError("ServiceNow configuration does not match the instance:\n  - " + "\n  - ".join(fatal))
        for table in sorted(set(problems) - set(required)):
            self.skipped_tables.add(table)
            log.warning("optional table skipped: %s", "; ".join(problems[table]))
        if self.skipped_tables:
            info["skipped_optional_tables"] = ", ".join(sorted(self.skipped_tables))
        return info

    # --- extraction -------------------------------------------------------------------------

    def extract(self, stream: str, state: StateDB, *, run_id: str | None, full_refresh: bool = False,
                window: Window | None = None) -> StreamStats:
        if stream == "attachments":
            return self._extract_attachments(state, run_id=run_id, full_refresh=full_refresh, window=window)
        if stream == "issues":  # every issue table of the mapping, each with its own cursor and sweep
            return extract_issues(self, state, run_id=run_id, full_refresh=full_refresh, window=window)
        spec = self.cfg.source.tables[stream]
        stats = StreamStats(stream)
        if spec.table in self.skipped_tables:
            stats.warnings.append(f"optional table {spec.table} is not on this instance; skipped")
            return stats
        self.read_into(state, stream, stream, spec.table, spec.fields, spec.filter, attachments=False,
                        run_id=run_id, full_refresh=full_refresh, window=window, stats=stats)
        if stream == "engagements":
            self._refresh_company_refs(state, run_id)
        if stream == "assessments" and self.cfg.source.reconcile_assessment_deletions and window is None:
            self.sweep_deletions(state, stream, spec.table, spec.filter, attachments=False, stats=stats)
        return stats

    def sweep_deletions(self, state: StateDB, stream: str, table: str, base_query: str, *, attachments: bool,
                         stats: StreamStats) -> None:
        """A deleted record never shows up above a ``sys_updated_on`` watermark: list the ids still
        there and mark the rest deleted. A restored record is upserted again, which clears the mark."""
        self.progress.phase(f"checking {table} for deleted records")
        present = self.reader.list_ids(table, base_query=base_query, attachments=attachments)
        gone = state.staged_keys(stream, SOURCE) - present
        with state.transaction():
            stats.deleted += state.mark_deleted(stream, SOURCE, gone)

    def read_into(self, state: StateDB, stream: str, cursor_name: str, table: str, fields: list[str] | None,
                   base_query: str, *, attachments: bool, run_id: str | None, full_refresh: bool,
                   window: Window | None, stats: StreamStats) -> None:
        cursor = None if (full_refresh or window) else state.get_cursor(SOURCE, cursor_name)
        since = window.start if window else incremental_since(
            Cursor(cursor.updated_on, cursor.sys_id) if cursor and cursor.updated_on else None,
            cursor.server_started_at if cursor else None, self.cfg.source.lag_seconds)
        read = ReadStats()
        until = window.end if window else None
        self.progress.begin(f"reading {table}" + (f" ({base_query})" if base_query else ""), verb="read",
                            total_fn=lambda: self._count(table, base_query, since, until))
        for page in self.reader.read(table, fields, base_query=base_query, since=since, until=until,
                                     attachments=attachments, stats=read):
            # The page and the cursor that covers it commit together: a crash repeats a page, never skips one.
            with state.transaction():
                changed, unchanged = state.upsert_staged(stream, SOURCE, page.records, run_id=run_id,
                                                         force=window is not None)
                if window is None:
                    state.set_cursor(SOURCE, cursor_name, page.cursor.updated_on, page.cursor.sys_id,
                                     read.server_started_at, run_id)
            stats.changed += changed
            stats.unchanged += unchanged
            self.progress.advance(len(page.records))
        stats.pages += read.pages
        stats.records += read.records
        stats.page_size_halvings += read.page_size_halvings
        stats.duplicates_dropped += read.duplicates_dropped

    def _count(self, table: str, base_query: str, since: str | None, until: str | None) -> int | None:
        """How many records a read will see (the Stats API counts before row ACLs), for the ETA of its
        progress lines: asked only once a read has run for half the progress pace."""
        query = "^".join(c for c in (base_query, f"sys_updated_on>={since}" if since else "",
                                     f"sys_updated_on<{until}" if until else "") if c)
        body = self.client.get_json(f"/api/now/stats/{table}", {"sysparm_count": "true", "sysparm_query": query})
        return int(body["result"]["stats"]["count"])

    def _refresh_company_refs(self, state: StateDB, run_id: str | None) -> None:
        """Engagements may point at companies that are not vendors: fetch those few rows so the
        outcome can say 'not a vendor' rather than 'missing'."""
        self.progress.phase("reading the companies engagements name that are not vendors")
        vendors = state.staged_keys("vendors", SOURCE)
        known = state.staged_keys("company_refs", SOURCE)
        wanted = set()
        for row in state.staged("engagements", SOURCE):
            ref = row.record.get("vendor")
            if isinstance(ref, str) and ref and ref not in vendors and ref not in known:
                wanted.add(ref)
        self.stage_companies(state, wanted, run_id)

    def stage_companies(self, state: StateDB, sys_ids: set[str], run_id: str | None) -> None:
        """Stage the named ``core_company`` rows that are not vendors (``company_refs``), 100 per request."""
        table = self.cfg.source.tables["vendors"].table
        ids = sorted(sys_ids)
        for i in range(0, len(ids), 100):
            rows = self.client.get_json(f"/api/now/table/{table}", {
                "sysparm_query": f"sys_idIN{','.join(ids[i:i + 100])}",
                "sysparm_fields": "sys_id,name,vendor,sys_updated_on",
                "sysparm_exclude_reference_link": "true", "sysparm_limit": 100})["result"]
            with state.transaction():
                state.upsert_staged("company_refs", SOURCE, rows, run_id=run_id)

    def _extract_attachments(self, state: StateDB, *, run_id: str | None, full_refresh: bool,
                             window: Window | None) -> StreamStats:
        stats = StreamStats("attachments")
        for parent in self.cfg.source.attachment_parents:
            # One watermark per parent table: attachments change without touching their parent.
            self.read_into(state, "attachments", f"attachments:{parent}", "sys_attachment", None,
                            f"table_name={parent}", attachments=True, run_id=run_id, full_refresh=full_refresh,
                            window=window, stats=stats)
        if self.cfg.source.reconcile_attachment_deletions and window is None:
            parents = ",".join(self.cfg.source.attachment_parents)
            self.sweep_deletions(state, "attachments", "sys_attachment", f"table_nameIN{parents}", attachments=True,
                                  stats=stats)
        self.progress.phase("probing the content of new attachments (SBOM or document)")
        stats.classified = self._classify(state)
        return stats

    def _classify(self, state: StateDB) -> int:
        """Classify new or changed attachments by content (``attachment_probe``): BOMs are known
        by what they hold, whatever their name. Only attachments whose declared type and name
        both say binary (a ``.pdf`` sent as ``application/pdf``) are documents without a probe;
        their bytes are hash-checked when they are uploaded."""
        todo = []
        for row in state.staged("attachments", SOURCE):
            meta = row.record
            version = meta.get("hash") or f"{meta.get('sys_updated_on')}:{meta.get('size_bytes')}"
            if row.kind_version == version:
                continue
            try:
                size = int(meta.get("size_bytes") or 0)
            except (TypeError, ValueError):  # malformed metadata: the record's outcome says so (mapping)
                state.set_kind("attachments", SOURCE, row.key, "document", version, "not probed (malformed size_bytes)")
                continue
            too_big = size > max(self.cfg.documents.max_bytes, self.cfg.boms.max_bytes)
            if size == 0 or too_big:
                state.set_kind("attachments", SOURCE, row.key, "document", version, "not probed (fails pre-flight)")
                continue
            if not needs_probe(meta.get("content_type"), meta.get("file_name") or ""):
                state.set_kind("attachments", SOURCE, row.key, "document", version, None)
                continue
            todo.append((row.key, version, size, meta.get("hash") or ""))

        def probe(item: tuple[str, str, int, str]) -> tuple[str, str, str, str | None]:
            key, version, size, expected = item
            try:
                kind, reason = probe_attachment(self.client, key, size, expected or None)
            except ProbeFailed as exc:
                return key, version, "", str(exc)
            return key, version, kind, reason

        done = 0

        def record(_: tuple, result: tuple[str, str, str, str | None]) -> None:
            nonlocal done
            key, version, kind, problem = result
            if not kind:  # probe failed: leave unclassified, probed again next run
                log.warning("attachment %s: %s", key, problem)
                return
            with state.transaction():
                state.set_kind("attachments", SOURCE, key, kind, version, problem)
            done += 1

        # Each verdict is recorded as it arrives (in this thread: the state DB is not shared), so a
        # run stopped at its deadline keeps what was probed.
        run_all(probe, todo, workers=self.cfg.sync.servicenow_concurrency, deadline=self.deadline, name="probe",
                on_result=record, doing="probing attachment contents")
        return done

    # --- snapshot and files -----------------------------------------------------------------

    def snapshot(self, state: StateDB) -> Snapshot:
        return build_snapshot(state, self.cfg)

    def key_prefix(self, entity: str) -> str:
        t = self.cfg.source.tables
        table = {"user": t["users"].table, "vendor": t["vendors"].table, "service": t["engagements"].table,
                 "assessment": t["assessments"].table, "document": "sys_attachment", "bom": "sys_attachment",
                 "finding": t["issues"].table}[entity]
        return f"sn:{table}"

    def fetch(self, attachment: CanonicalAttachment, dest: BinaryIO) -> Downloaded:
        return download(self.client, attachment.file_ref, dest, expected_sha256=attachment.sha256,
                        expected_size=attachment.size)
