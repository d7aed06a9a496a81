"""The mapping/configuration file (``CONNECTOR_CONFIG``), validated by pydantic.

Everything has a default, so the connector runs with no file at all. Unknown keys are errors
(a typo must not silently fall back to a default), and every error names the file, the path
of the key and what was expected.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connector.errors import ConfigError
from connector.servicenow import default_schema as ds

COVERBASE_EXTENSIONS = ["pdf", "doc", "docx", "rtf", "txt", "md", "xls", "xlsx", "xlsm", "csv", "ppt", "pptx",
                        "png", "jpg", "jpeg", "gif", "webp", "zip"]
MAX_DOCUMENT_BYTES = 100 * 1024 * 1024


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableSpec(Strict):
    table: str
    filter: str = ""
    fields: list[str]
    optional: bool = False  # a lookup that may be missing on an instance: skipped with a warning

    @field_validator("fields")
    @classmethod
    def _has_cursor_fields(cls, v: list[str]) -> list[str]:
        missing = {"sys_id", "sys_updated_on"} - set(v)
        if missing:
            raise ValueError(f"must include {sorted(missing)} (the reader pages on them)")
        return v


def _default_tables() -> dict[str, TableSpec]:
    out = {name: TableSpec(**spec) for name, spec in ds.DEFAULT_TABLES.items()}
    out["templates"] = TableSpec(table="sn_vdr_risk_asmt_assessment_template",
                                 fields=["sys_id", "name", "sys_updated_on"],
                                 optional=True)
    out["vendor_types"] = TableSpec(table="vendor_type", fields=["sys_id", "name", "sys_updated_on"], optional=True)
    return out


class SourceConfig(Strict):
    kind: Literal["servicenow", "files"] = "servicenow"
    tables: dict[str, TableSpec] = Field(default_factory=_default_tables)
    attachment_parents: list[str] = Field(default_factory=lambda: list(ds.ATTACHMENT_PARENTS))
    page_size: int = Field(1000, ge=10, le=10000)
    lag_seconds: int = Field(300, ge=0, le=86400)
    reconcile_attachment_deletions: bool = True
    reconcile_assessment_deletions: bool = True  # a sys_id sweep finds deleted assessment records
    validate_schema: bool = True
    files_path: str | None = None  # folder of a file export (kind: files)
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)  # file source: table -> {field: column}

    @model_validator(mode="after")
    def _fill_tables(self) -> SourceConfig:
        defaults = _default_tables()
        for name, spec in defaults.items():
            self.tables.setdefault(name, spec)
        unknown = {k for k in self.tables if k not in defaults and not k.startswith("issues_")}
        if unknown:
            raise ValueError(f"unknown source table key(s) {sorted(unknown)}; expected some of {sorted(defaults)}, "
                             "or issues_<name> for another issue table")
        return self


class UsersConfig(Strict):
    scope: Literal["referenced"] = "referenced"
    include_inactive: bool = False
    role: str = "org:member"


class VendorsConfig(Strict):
    status_field: str | None = None  # a core_company column holding the third-party status
    status_map: dict[str, str] = Field(default_factory=dict)  # ServiceNow value -> cbst_ id
    tag_map: dict[str, str] = Field(default_factory=dict)  # vendor_type name/value/sys_id -> cbtag_ id
    contact_as_watcher: bool = False  # also make core_company.contact a watcher
    clear_with_empty_string: bool = True  # PATCH cannot null a field; "" blanks it

    @field_validator("status_map")
    @classmethod
    def _status_ids(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, x in v.items() if not str(x).startswith("cbst_")]
        if bad:
            raise ValueError(f"values must be Coverbase status ids (cbst_...); wrong for {bad}")
        return v

    @field_validator("tag_map")
    @classmethod
    def _tag_ids(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, x in v.items() if not str(x).startswith("cbtag_")]
        if bad:
            raise ValueError(f"values must be Coverbase tag ids (cbtag_...); wrong for {bad}")
        return v


class DocumentTypeRule(Strict):
    pattern: str  # shell-style, case-insensitive, matched against the file name
    type: str


class DocumentsConfig(Strict):
    allowed_extensions: list[str] = Field(default_factory=lambda: list(COVERBASE_EXTENSIONS))
    max_bytes: int = Field(MAX_DOCUMENT_BYTES, ge=1)
    type_by_pattern: list[DocumentTypeRule] = Field(default_factory=list)
    spool_in_memory_bytes: int = 8 * 1024 * 1024

    def document_type(self, file_name: str) -> str | None:
        for rule in self.type_by_pattern:
            if fnmatch.fnmatch(file_name.lower(), rule.pattern.lower()):
                return rule.type
        return None


class BomsConfig(Strict):
    enabled: bool = True
    max_bytes: int = Field(MAX_DOCUMENT_BYTES, ge=1)
    # lenient: schema findings are warnings and the BOM is uploaded; strict: a finding refuses it.
    validation: Literal["strict", "lenient"] = "lenient"
    # Schema validation holds the document in memory: above this size it is skipped (noted).
    validation_max_bytes: int = Field(5 * 1024 * 1024, ge=0)
    # Coverbase parses asynchronously: after the uploads, read each new BOM's parse_status up to
    # this many times (0: only on the next run), this far apart; the rest is read next run.
    verdict_poll_rounds: int = Field(2, ge=0, le=10)
    verdict_poll_interval_seconds: float = Field(0.5, ge=0, le=60)
    verdict_reads_per_run: int = Field(500, ge=0, le=100_000)  # GETs of BOMs still pending, per run


class AssessmentsConfig(Strict):
    control_sets_by_template: dict[str, list[str]] = Field(default_factory=dict)  # template sys_id or name
    trigger_workflow: str | None = None
    ineligible_states: list[str] = Field(default_factory=lambda: ["closed", "cancelled", "canceled"])
    archive_states: list[str] = Field(default_factory=lambda: ["cancelled", "canceled"])

    @field_validator("control_sets_by_template")
    @classmethod
    def _control_sets(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [k for k, ids in v.items() for i in ids if not str(i).startswith("cbctst_")]
        if bad:
            raise ValueError(f"values must be lists of control set ids (cbctst_...); wrong for {sorted(set(bad))}")
        return v


# GRC issue states as one live instance numbers them (servicenow-writes.md §A.3); instances differ.
GRC_ISSUE_STATES = {"1": "new", "2": "analyze", "5": "respond", "0": "review", "3": "closed_complete",
                    "4": "closed_incomplete", "7": "cancelled"}
ISSUE_FIELDS = ("number", "short_description", "description", "state", "priority", "due_date", "vendor",
                "engagement", "assessment", "active")


def state_token(value: str) -> str:
    """``Closed Complete`` / ``closed-complete`` / ``closed_complete`` compare equal."""
    return "_".join("".join(c if c.isalnum() else " " for c in value.strip().lower()).split())


class FindingsConfig(Strict):
    states: dict[str, str] = Field(default_factory=lambda: dict(GRC_ISSUE_STATES))  # source value -> name
    status_map: dict[str, str] = Field(default_factory=dict)  # state value or name -> cbst_...; no default
    archive_states: list[str] = Field(default_factory=lambda: ["cancelled"])  # names or values
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)  # issue table -> {field: column}
    confirm: dict[str, str] = Field(default_factory=dict)  # issue key -> cbtask_... or "none" (by hand)
    reconcile_deletions: bool = True  # a sys_id sweep finds deleted issues (their findings are archived)

    @field_validator("status_map")
    @classmethod
    def _status_ids(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, x in v.items() if not str(x).startswith("cbst_")]
        if bad:
            raise ValueError(f"values must be Coverbase finding status ids (cbst_...); wrong for {bad}")
        return {str(k): x for k, x in v.items()}

    @field_validator("confirm")
    @classmethod
    def _confirmations(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, x in v.items() if x != "none" and not str(x).startswith("cbtask_")]
        if bad:
            raise ValueError(f"values must be a finding id (cbtask_...) or 'none'; wrong for {bad}")
        return v

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        bad = sorted({f for cols in v.values() for f in cols if f not in ISSUE_FIELDS})
        if bad:
            raise ValueError(f"unknown issue field(s) {bad}; expected some of {list(ISSUE_FIELDS)}")
        return v

    def state_name(self, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        v = value.strip()
        return state_token(self.states.get(v, v))

    def known_state(self, value: str | None) -> bool:
        v = (value or "").strip()
        return not v or v in self.states or state_token(v) in {state_token(n) for n in self.states.values()}

    def status_for(self, value: str | None) -> str | None:
        """The cbst_ id for a source state: by its value first, then by its name."""
        if value is None:
            return None
        v, name = value.strip(), self.state_name(value)
        if v in self.status_map:
            return self.status_map[v]
        return next((x for k, x in self.status_map.items() if state_token(k) == name), None)

    def archives(self, value: str | None) -> bool:
        if value is None or not value.strip():
            return False
        v, name = value.strip(), self.state_name(value)
        return any(a == v or state_token(a) == name for a in self.archive_states)


# Coverbase assessment attributes a write-back field mapping may name (what each one writes:
# connector/writeback/outcome.py). score is score_percent as a percentage (72.5), score_percent as sent.
WRITE_BACK_ATTRIBUTES = ("status", "score", "score_percent", "findings_count", "assessment_id", "updated_at")
COVERBASE_ASSESSMENT_STATUSES = ("created", "collecting_documents", "indexing_supporting_documents",
                                 "analyzing_questionnaire", "review_evals", "complete", "failed", "canceled")
# Never targets of a mapping: journals have their own rules (work notes only, never comments, which
# third-party contacts see), and system fields are ServiceNow's.
_NOT_MAPPABLE = ("work_notes", "comments")


class WriteBackConfig(Strict):
    """Assessment outcomes back into ServiceNow (opt-in): a work note per change, optional fields."""

    enabled: bool = False
    table: str | None = None  # default: source.tables.assessments.table
    fields: dict[str, str] = Field(default_factory=dict)  # Coverbase attribute -> ServiceNow column
    # ServiceNow column (state or risk_rating) -> {Coverbase status -> ServiceNow value}; unmapped
    # statuses leave the column alone. These columns drive ServiceNow's own process: explicit maps only.
    state_map: dict[Literal["state", "risk_rating"], dict[str, str]] = Field(default_factory=dict)
    concurrency: int = Field(4, ge=1, le=32)
    # A write whose answer was lost (5xx, 202, dropped connection) is verified by reading the journal
    # back, but only once ServiceNow can no longer be committing it (its transaction quota is 60 s).
    settle_seconds: float = Field(120.0, ge=0, le=3600)
    max_attempts: int = Field(4, ge=1, le=10)  # per record and run, for answers that prove nothing was written
    max_wait_seconds: float = Field(120.0, ge=0, le=3600)  # total Retry-After waiting per record and run
    recheck_terminal: bool = False  # also re-read assessments whose terminal outcome was already written
    # coverbase_outcomes_sensor: how much it may poll per tick, and how fast
    poll_batch: int = Field(25, ge=1, le=1000)
    poll_rate_per_second: float = Field(2.0, gt=0, le=50)
    poll_budget_seconds: float = Field(20.0, gt=0, le=45)  # inside Dagster's 60 s sensor evaluation timeout

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(v) - set(WRITE_BACK_ATTRIBUTES))
        if bad:
            raise ValueError(f"unknown Coverbase attribute(s) {bad}; choose from {list(WRITE_BACK_ATTRIBUTES)}")
        cols = [c for c in v.values() if c in _NOT_MAPPABLE or c.startswith("sys_") or c in ("state", "risk_rating")]
        if cols:
            raise ValueError(f"column(s) {sorted(cols)} cannot be mapped: work notes are written on their own, "
                             "comments never (third-party contacts see them), system fields are ServiceNow's, and "
                             "state / risk_rating only through write_back.state_map")
        dup = sorted({c for c in v.values() if list(v.values()).count(c) > 1})
        if dup:
            raise ValueError(f"column(s) {dup} mapped from more than one attribute")
        return v

    @field_validator("state_map", mode="before")
    @classmethod
    def _values_as_text(cls, v: Any) -> Any:
        # YAML reads `complete: 5` as a number; ServiceNow values are strings on the wire.
        if isinstance(v, dict):
            return {k: ({s: (str(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x)
                         for s, x in m.items()} if isinstance(m, dict) else m) for k, m in v.items()}
        return v

    @field_validator("state_map")
    @classmethod
    def _state_map(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for column, values in v.items():
            bad = sorted(set(values) - set(COVERBASE_ASSESSMENT_STATUSES))
            if bad:
                raise ValueError(f"{column}: unknown Coverbase status(es) {bad}; choose from "
                                 f"{list(COVERBASE_ASSESSMENT_STATUSES)}")
            empty = sorted(k for k, x in values.items() if not str(x).strip())
            if empty:
                raise ValueError(f"{column}: empty ServiceNow value for {empty} (a choice field is not cleared by '')")
        return v


class ThresholdsConfig(Strict):
    breaker_archive_share: float = Field(0.2, ge=0, le=1)
    breaker_update_share: float = Field(0.5, ge=0, le=1)
    breaker_min_records: int = Field(20, ge=0)
    # The rejected_share check judges this run's outcomes of each push: it warns above this share
    # once at least rejected_min_records records were considered; it fails the run (ERROR, blocking
    # downstream assets) only when rejected_share_blocks is true. Rejected records are outcomes,
    # not a failed run: by default a completed run exits 0.
    rejected_share: float = Field(0.2, ge=0, le=1)
    rejected_min_records: int = Field(20, ge=0)
    rejected_share_blocks: bool = False
    drift_sample: int = Field(25, ge=0)


class SyncConfig(Strict):
    # Concurrent Coverbase requests. Adaptive (AIMD, connector/http/aimd.py): starts at `concurrency`,
    # grows while responses stay fast and 429-free, backs off on 429 or rising latency, never above
    # `max_concurrency`. With adaptive_concurrency: false it is `concurrency`, fixed.
    concurrency: int = Field(8, ge=1, le=64)
    max_concurrency: int = Field(32, ge=1, le=128)
    adaptive_concurrency: bool = True
    rate_limit_per_second: float | None = Field(None, gt=0)
    servicenow_concurrency: int = Field(4, ge=1, le=32)
    samples: int = Field(5, ge=1, le=100)
    report_problems: int = Field(20, ge=1, le=1000)

    @property
    def coverbase_workers(self) -> int:
        """Threads that write to Coverbase: enough for the highest limit the gate may reach."""
        return max(self.concurrency, self.max_concurrency) if self.adaptive_concurrency else self.concurrency

    def coverbase_client_kwargs(self) -> dict:
        """How the Coverbase client's request gate is sized from this section."""
        return {"max_concurrency": self.coverbase_workers, "initial_concurrency": self.concurrency,
                "adaptive_concurrency": self.adaptive_concurrency, "rate_limit_per_second": self.rate_limit_per_second}


class ConnectorConfig(Strict):
    source: SourceConfig = Field(default_factory=SourceConfig)
    users: UsersConfig = Field(default_factory=UsersConfig)
    vendors: VendorsConfig = Field(default_factory=VendorsConfig)
    documents: DocumentsConfig = Field(default_factory=DocumentsConfig)
    boms: BomsConfig = Field(default_factory=BomsConfig)
    assessments: AssessmentsConfig = Field(default_factory=AssessmentsConfig)
    findings: FindingsConfig = Field(default_factory=FindingsConfig)
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    write_back: WriteBackConfig = Field(default_factory=WriteBackConfig)


def _explain(exc: ValidationError, where: str) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        lines.append(f"  - {path}: {msg}")
    return f"{where} is not a valid connector configuration:\n" + "\n".join(lines)


def parse_config(data: Any, where: str = "configuration") -> ConnectorConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of sections, not {type(data).__name__}")
    try:
        return ConnectorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, where)) from None


def load_config(path: str | Path | None) -> ConnectorConfig:
    """Load ``CONNECTOR_CONFIG``; no path means all defaults."""
    if not path:
        return ConnectorConfig()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"CONNECTOR_CONFIG points at {str(p)!r}, which is not a readable file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not UTF-8 text") from None
    return parse_config(data, str(p))
