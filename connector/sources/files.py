"""A file export of another GRC tool (OneTrust, Archer, ProcessUnity, a spreadsheet) as a source.

The folder holds ``users``, ``vendors``, ``services``, ``assessments`` and ``issues`` tables (CSV,
JSON or XLSX) and the files their ``documents`` / ``boms`` columns name by relative path. The whole
export is validated before anything is written (``check``): one report lists every problem
with its file, row and column, and the migration stops if there is any. Rows keep their key
column as the stable source key, used for idempotency keys and the ledger exactly like a sys_id.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from connector.canonical import (
    CanonicalAssessment,
    CanonicalAttachment,
    CanonicalService,
    CanonicalUser,
    CanonicalVendor,
    Contact,
    Snapshot,
    email_problem,
    normalize_email,
)
from connector.config import ConnectorConfig
from connector.deadline import Deadline
from connector.errors import ConfigError, ContentMismatch
from connector.files.bom_detect import BomSniffer
from connector.files.content import HEAD_BYTES
from connector.servicenow.attachments import Downloaded
from connector.sources.base import StreamStats, Window
from connector.sources.export_issues import snapshot_issues, validate_issues
from connector.sources.export_tables import COLUMNS, REQUIRED, TABLES, Problem, Table, read_table, split_list
from connector.state import StateDB

SOURCE = "files"
STREAM_OF_TABLE = {"users": "users", "vendors": "vendors", "services": "engagements", "assessments": "assessments",
                   "issues": "issues"}
PARENT_ENTITY = {"vendors": "vendor", "services": "service", "assessments": "assessment"}
TRUE = {"true", "yes", "y", "1", "active"}
FALSE = {"false", "no", "n", "0", "inactive"}


class ExportInvalid(ConfigError):
    """The export has problems; nothing was written. ``problems`` lists them all."""

    def __init__(self, root: Path, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the export in {root} has {len(problems)} problem(s); nothing was written:\n{lines}")


@dataclass
class Export:
    """The validated export: records by table, references resolved to source keys."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    assessments: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # see export_issues.py
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # attachment key -> metadata


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    return True if v in TRUE else False if v in FALSE else None


class _Validator:
    def __init__(self, root: Path, cfg: ConnectorConfig) -> None:
        self.root = root.resolve()
        self.cfg = cfg
        self.problems: list[Problem] = []
        self.export = Export()
        self.columns = self._columns()

    def _columns(self) -> dict[str, dict[str, str]]:
        out = {t: dict(cols) for t, cols in COLUMNS.items()}
        for table, mapping in self.cfg.source.columns.items():
            if table not in out:
                self.problems.append(Problem("config", None, None, f"source.columns.{table}: unknown table "
                                             f"(tables: {', '.join(TABLES)})"))
                continue
            for fld, col in mapping.items():
                if fld not in out[table]:
                    self.problems.append(Problem("config", None, None, f"source.columns.{table}.{fld}: unknown field "
                                                 f"(fields: {', '.join(out[table])})"))
                else:
                    out[table][fld] = col
        return out

    def val(self, table: str, row: dict[str, str | None], fld: str) -> str | None:
        return row.get(self.columns[table][fld])

    def check_vendor(self, file: str, line: int, col: str, vendor: str | None) -> None:
        if vendor and vendor not in self.export.vendors:
            self.problems.append(Problem(file, line, col,
                                         f"unknown vendor {vendor!r}: no such row in the vendors table"))

    def check_belongs(self, file: str, line: int, col: str, kind: str, key: str, vendor: str | None, *,
                      vendor_required: bool = True) -> None:
        """A row names a service or an assessment (``kind``) by ``key``: it must exist and belong to the
        row's vendor (when the row names none, only if ``vendor_required``)."""
        found = getattr(self.export, f"{kind}s").get(key)
        if found is None:
            self.problems.append(Problem(file, line, col, f"unknown {kind} {key!r}: no such row in the {kind}s table"))
        elif (vendor or vendor_required) and found["vendor"] != vendor:
            self.problems.append(Problem(file, line, col, f"{kind} {key!r} belongs to vendor {found['vendor']!r}, "
                                         f"not {vendor!r}"))

    def run(self) -> Export:
        if not self.root.is_dir():
            self.problems.append(Problem(str(self.root), None, None, "is not a folder"))
            return self.export
        tables = {name: read_table(self.root, name, self.problems) for name in TABLES}
        if tables["vendors"].file is None:
            self.problems.append(Problem("vendors.csv|json|xlsx", None, None, "the export has no vendors table"))
        for name, t in tables.items():
            if t.file is not None:
                self._check_columns(t)
        keyed = {name: self._keys(t) for name, t in tables.items()}
        self._users(tables["users"], keyed["users"])
        self._vendors(tables["vendors"], keyed["vendors"])
        self._services(tables["services"], keyed["services"])
        self._assessments(tables["assessments"], keyed["assessments"])
        validate_issues(self, tables["issues"], keyed["issues"])
        return self.export

    def _check_columns(self, t: Table) -> None:
        for fld in REQUIRED[t.name]:
            col = self.columns[t.name][fld]
            if col not in t.columns:
                self.problems.append(Problem(t.file or t.name, 1, col, f"required column missing (the {fld} of a "
                                             f"{t.name[:-1]}; map another column with source.columns.{t.name}.{fld})"))

    def _keys(self, t: Table) -> dict[str, tuple[int, dict]]:
        out: dict[str, tuple[int, dict]] = {}
        key_col = self.columns[t.name]["key"]
        if t.file is None or key_col not in t.columns:
            return out
        for line, row in t.rows:
            key = row.get(key_col)
            if not key:
                self.problems.append(Problem(t.file, line, key_col, "empty key: every row needs a stable id"))
            elif key in out:
                self.problems.append(Problem(t.file, line, key_col,
                                             f"duplicate key {key!r} (first at row {out[key][0]})"))
            else:
                out[key] = (line, row)
        return out

    # --- references -----------------------------------------------------------------------

    def _user_ref(self, value: str, file: str, line: int, col: str) -> str | None:
        """A person is named by a users-table key, or by email (a user is then created from it)."""
        if value in self.export.users:
            return value
        email = normalize_email(value)
        for key, u in self.export.users.items():
            if u["email"] and normalize_email(u["email"]) == email:
                return key
        if email and "@" in email:
            problem = email_problem(email)
            if problem:
                self.problems.append(Problem(file, line, col, f"{value!r} is not a valid email address: {problem}"))
                return None
            key = f"email:{email}"
            self.export.users.setdefault(key, {"key": key, "email": email, "first_name": None, "last_name": None,
                                               "active": True})
            return key
        self.problems.append(Problem(file, line, col,
                                     f"unknown user {value!r}: not a key of the users table nor an email"))
        return None

    def _files(self, table: str, key: str, value: str | None, file: str, line: int, col: str) -> None:
        for rel in split_list(value):
            path = (self.root / rel)
            if os.path.isabs(rel) or ".." in Path(rel).parts:
                self.problems.append(Problem(file, line, col, f"file {rel!r} escapes the export folder"))
                continue
            real = path.resolve()
            if self.root not in real.parents:
                self.problems.append(Problem(file, line, col, f"file {rel!r} escapes the export folder (symlink)"))
                continue
            if not real.is_file():
                self.problems.append(Problem(file, line, col, f"file {rel!r} does not exist"))
                continue
            att_key = f"{table}/{key}/{Path(rel).as_posix()}"
            self.export.files[att_key] = {"key": att_key, "path": Path(rel).as_posix(), "file_name": real.name,
                                          "size": real.stat().st_size, "table": table, "parent_key": key}

    # --- tables ---------------------------------------------------------------------------

    def _users(self, t: Table, rows: dict[str, tuple[int, dict]]) -> None:
        col = self.columns["users"]["email"]
        for key, (line, row) in rows.items():
            email = self.val("users", row, "email")
            problem = email_problem(normalize_email(email))
            if problem:
                self.problems.append(Problem(t.file or "users", line, col, f"{email!r} is not a valid email address: "
                                             f"{problem}" if email else "no email address"))
                continue
            active = _flag(self.val("users", row, "active"))
            self.export.users[key] = {"key": key, "email": email, "first_name": self.val("users", row, "first_name"),
                                      "last_name": self.val("users", row, "last_name"), "active": active is not False}

    def _owners(self, table: str, row: dict, file: str, line: int) -> list[str]:
        col = self.columns[table]["owners"]
        return [k for v in split_list(row.get(col)) if (k := self._user_ref(v, file, line, col))]

    def _vendors(self, t: Table, rows: dict[str, tuple[int, dict]]) -> None:
        file = t.file or "vendors"
        for key, (line, row) in rows.items():
            v = lambda f: self.val("vendors", row, f)  # noqa: E731
            if not v("name"):
                self.problems.append(Problem(file, line, self.columns["vendors"]["name"], "empty vendor name"))
            contact = None
            if v("contact_email"):
                problem = email_problem(normalize_email(v("contact_email")))
                if problem:
                    self.problems.append(Problem(file, line, self.columns["vendors"]["contact_email"],
                                                 f"{v('contact_email')!r} is not a valid email address: {problem}"))
                else:
                    contact = {"email": v("contact_email"), "name": v("contact_name"), "title": v("contact_title"),
                               "phone": v("contact_phone")}
            location = v("hq_location") or ", ".join(p for p in (v("city"), v("state"), v("country")) if p) or None
            self.export.vendors[key] = {"key": key, "name": v("name"), "website": v("website"),
                                        "description": v("description"), "hq_location": location,
                                        "owner_keys": self._owners("vendors", row, file, line), "contact": contact,
                                        "status": v("status"), "tags": split_list(v("tags"))}
            self._files("vendors", key, v("documents"), file, line, self.columns["vendors"]["documents"])
            self._files("vendors", key, v("boms"), file, line, self.columns["vendors"]["boms"])

    def _services(self, t: Table, rows: dict[str, tuple[int, dict]]) -> None:
        file = t.file or "services"
        for key, (line, row) in rows.items():
            s = lambda f: self.val("services", row, f)  # noqa: E731
            vendor = s("vendor")
            if vendor and vendor not in self.export.vendors:
                self.problems.append(Problem(file, line, self.columns["services"]["vendor"],
                                             f"unknown vendor {vendor!r}: no such row in the vendors table"))
            if not s("name"):
                self.problems.append(Problem(file, line, self.columns["services"]["name"], "empty service name"))
            self.export.services[key] = {"key": key, "vendor": vendor, "name": s("name"),
                                         "description": s("description"),
                                         "owner_keys": self._owners("services", row, file, line)}
            self._files("services", key, s("documents"), file, line, self.columns["services"]["documents"])
            self._files("services", key, s("boms"), file, line, self.columns["services"]["boms"])

    def _assessments(self, t: Table, rows: dict[str, tuple[int, dict]]) -> None:
        file = t.file or "assessments"
        cols = self.columns["assessments"]
        for key, (line, row) in rows.items():
            a = lambda f: self.val("assessments", row, f)  # noqa: E731
            vendor, service = a("vendor"), a("service")
            self.check_vendor(file, line, cols["vendor"], vendor)
            if service:
                self.check_belongs(file, line, cols["service"], "service", service, vendor)
            assignee = self._user_ref(a("assignee"), file, line, cols["assignee"]) if a("assignee") else None
            self.export.assessments[key] = {"key": key, "vendor": vendor, "service": service, "name": a("name"),
                                            "assignee": assignee, "template": a("template"), "state": a("state")}
            self._files("assessments", key, a("documents"), file, line, cols["documents"])


def validate_export(root: str | Path, cfg: ConnectorConfig) -> tuple[Export, list[Problem]]:
    v = _Validator(Path(root), cfg)
    export = v.run()
    return export, v.problems


class FileSource:
    name = SOURCE
    streams = ("users", "vendors", "engagements", "assessments", "issues", "attachments")

    def __init__(self, path: str | Path, config: ConnectorConfig) -> None:
        self.root = Path(path).resolve()
        self.cfg = config
        self._export: Export | None = None

    def set_deadline(self, deadline: Deadline) -> None:
        self.deadline = deadline  # files are local: nothing waits on a remote API

    def close(self) -> None:
        pass

    def _validated(self) -> Export:
        if self._export is None:
            export, problems = validate_export(self.root, self.cfg)
            if problems:
                raise ExportInvalid(self.root, problems)
            self._export = export
        return self._export

    def check(self) -> dict[str, str]:
        e = self._validated()
        return {"export": str(self.root), "vendors": str(len(e.vendors)), "files": str(len(e.files))}

    # --- extraction -------------------------------------------------------------------------

    def extract(self, stream: str, state: StateDB, *, run_id: str | None, full_refresh: bool = False,
                window: Window | None = None) -> StreamStats:
        e = self._validated()
        stats = StreamStats(stream)
        kinds: dict[str, tuple[str, str]] = {}
        if stream == "attachments":
            rows = [self._file_meta(m) for m in e.files.values()]
            kinds = {r["sys_id"]: r.pop("_kind") for r in rows}
        else:
            table = next(t for t, s in STREAM_OF_TABLE.items() if s == stream)
            rows = [{"sys_id": k, **r} for k, r in getattr(e, table).items()]
        with state.transaction():
            changed, unchanged = state.upsert_staged(stream, SOURCE, rows, run_id=run_id, updated_field="updated_on")
            present = {r["sys_id"] for r in rows}
            # A file or an issue gone from the export was deleted: its document or finding is archived.
            stats.deleted = state.mark_deleted(stream, SOURCE, state.staged_keys(stream, SOURCE) - present) \
                if stream in ("attachments", "issues") else 0
            for r in rows:
                if r["sys_id"] in kinds:
                    kind, reason = kinds[r["sys_id"]]
                    state.set_kind("attachments", SOURCE, r["sys_id"], kind, r["hash"], reason)
        stats.records, stats.changed, stats.unchanged = len(rows), changed, unchanged
        return stats

    def _file_meta(self, m: dict[str, Any]) -> dict[str, Any]:
        # One pass: the hash, and BOM detection by content over as much of the file as it needs.
        digest, sniffer = hashlib.sha256(), BomSniffer()
        with open(self.root / m["path"], "rb") as fh:
            while block := fh.read(256 * 1024):
                if not sniffer.done:
                    sniffer.feed(block)
                digest.update(block)
        facts = sniffer.close()
        return {"sys_id": m["key"], "file_name": m["file_name"], "size_bytes": m["size"], "hash": digest.hexdigest(),
                "table_name": m["table"], "table_sys_id": m["parent_key"], "path": m["path"],
                "updated_on": digest.hexdigest()[:16], "_kind": ("bom" if facts.is_bom else "document",
                                                                 facts.describe())}

    # --- snapshot, files, keys --------------------------------------------------------------

    def snapshot(self, state: StateDB) -> Snapshot:
        snap = Snapshot(source=SOURCE)
        for row in state.staged("users", SOURCE):
            r = row.record
            snap.users[row.key] = CanonicalUser(source=SOURCE, key=row.key, label=" ".join(
                p for p in (r.get("first_name"), r.get("last_name")) if p) or r.get("email") or row.key,
                email_raw=r.get("email"), first_name=r.get("first_name"), last_name=r.get("last_name"),
                active=r.get("active", True))
        for row in state.staged("vendors", SOURCE):
            r = row.record
            c = r.get("contact")
            snap.vendors[row.key] = CanonicalVendor(
                source=SOURCE, key=row.key, label=r.get("name") or row.key, name=r.get("name"),
                website=r.get("website"),
                description=r.get("description"), hq_location=r.get("hq_location"), owner_keys=r.get("owner_keys", []),
                primary_contact=Contact(**c) if c else None, status_value=r.get("status"), tag_values=r.get("tags", []))
        for row in state.staged("engagements", SOURCE):
            r = row.record
            snap.services[row.key] = CanonicalService(source=SOURCE, key=row.key, label=r.get("name") or row.key,
                                                      name=r.get("name"), description=r.get("description"),
                                                      vendor_key=r.get("vendor"), owner_keys=r.get("owner_keys", []))
        for row in state.staged("assessments", SOURCE):
            r = row.record
            snap.assessments[row.key] = CanonicalAssessment(
                source=SOURCE, key=row.key, label=r.get("name") or row.key, name=r.get("name"),
                vendor_key=r.get("vendor"), service_key=r.get("service"), assignee_key=r.get("assignee"),
                template_key=r.get("template"), template_name=r.get("template"), state=r.get("state"))
        snap.issues = snapshot_issues(state)
        for row in state.staged("attachments", SOURCE, include_deleted=True):
            r = row.record
            snap.attachments[row.key] = CanonicalAttachment(
                source=SOURCE, key=row.key, label=r["file_name"], updated_on=r.get("updated_on"),
                file_name=r["file_name"], size=int(r["size_bytes"]), sha256=r["hash"], parent_table=r["table_name"],
                parent_entity=PARENT_ENTITY.get(r["table_name"]), parent_key=r["table_sys_id"],  # type: ignore[arg-type]
                kind=row.kind, kind_reason=row.kind_reason, file_ref=r["path"], deleted=row.deleted_at is not None)
        return snap

    def fetch(self, attachment: CanonicalAttachment, dest: BinaryIO) -> Downloaded:
        path = (self.root / attachment.file_ref).resolve()
        if self.root not in path.parents:
            raise ContentMismatch(f"{attachment.file_ref!r} escapes the export folder")
        digest, size, head = hashlib.sha256(), 0, bytearray()
        with open(path, "rb") as fh:
            while block := fh.read(256 * 1024):
                dest.write(block)
                digest.update(block)
                size += len(block)
                if len(head) < HEAD_BYTES:
                    head += block[: HEAD_BYTES - len(head)]
        dest.flush()
        got = digest.hexdigest()
        if attachment.sha256 and got != attachment.sha256:
            raise ContentMismatch(f"{attachment.file_ref} changed since it was read (sha256 {got[:12]}…, expected "
                                  f"{attachment.sha256[:12]}…); run the migration again")
        return Downloaded(size, got, bytes(head))

    def key_prefix(self, entity: str) -> str:
        table = {"user": "users", "vendor": "vendors", "service": "services", "assessment": "assessments",
                 "document": "documents", "bom": "boms", "finding": "issues"}[entity]
        return f"files:{table}"
