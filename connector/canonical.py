"""Canonical records: what any source (ServiceNow, a file export) is mapped to before Coverbase.

The sync engine plans and applies on these alone, so a new source only has to produce them.
Keys are the source's stable record keys (sys_id for ServiceNow, a key column for files).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field


def normalize_email(raw: str | None) -> str | None:
    """Trimmed and lower-cased: Coverbase compares emails case-insensitively."""
    if raw is None:
        return None
    v = raw.strip().lower()
    return v or None


@functools.lru_cache(maxsize=65536)
def email_problem(email: str | None) -> str | None:
    """Why Coverbase would refuse this address (its EmailStr uses the same library), or None."""
    if not email:
        return "no email address"
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def valid_email(email: str | None) -> bool:
    return email_problem(email) is None


class Canonical(BaseModel):
    source: str
    key: str
    label: str = ""
    updated_on: str | None = None
    force: bool = False  # backfill: send again even when nothing changed
    # Why the source record cannot be mapped (a malformed value, a reference that is not a key):
    # the record's own outcome (invalid, with these reasons), never a failed run.
    problems: list[str] = Field(default_factory=list)
    repairs: list[str] = Field(default_factory=list)  # what the mapping repaired (ledger ``repairs``)


class CanonicalUser(Canonical):
    email_raw: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    active: bool = True

    @property
    def email(self) -> str | None:
        return normalize_email(self.email_raw)


class Contact(BaseModel):
    email: str | None
    name: str | None = None
    title: str | None = None
    phone: str | None = None


class CanonicalVendor(Canonical):
    name: str | None
    website: str | None = None
    description: str | None = None
    hq_location: str | None = None
    owner_keys: list[str] = Field(default_factory=list)
    contact_key: str | None = None  # a user (core_company.contact); referenced, so synced
    primary_contact: Contact | None = None
    status_value: str | None = None
    tag_values: list[str] = Field(default_factory=list)
    is_vendor: bool = True


class CanonicalService(Canonical):
    name: str | None
    description: str | None = None
    vendor_key: str | None = None
    owner_keys: list[str] = Field(default_factory=list)


class CanonicalAttachment(Canonical):
    file_name: str
    content_type: str | None = None
    size: int
    sha256: str | None = None  # from the source, when it publishes one
    parent_entity: Literal["vendor", "service", "assessment"] | None = None
    parent_key: str | None = None
    parent_table: str = ""
    kind: Literal["document", "bom", "corrupt"] | None = None  # detected by content at extraction
    kind_reason: str | None = None
    file_ref: str  # how the source fetches the bytes (sys_id, relative path)
    deleted: bool = False

    @property
    def content_version(self) -> str:
        return self.sha256 or f"{self.updated_on}:{self.size}"


class CanonicalAssessment(Canonical):
    name: str | None = None
    vendor_key: str | None = None
    service_key: str | None = None
    assignee_key: str | None = None
    template_key: str | None = None
    template_name: str | None = None
    state: str | None = None
    deleted: bool = False  # gone from the source (found by the sys_id sweep)


class CanonicalIssue(Canonical):
    """A TPRM / GRC issue: becomes a Coverbase finding."""

    table: str = ""  # source table, named in the finding's body
    number: str | None = None
    title: str | None = None  # short_description, trimmed
    description: str | None = None
    state: str | None = None  # the source value (GRC numbering by default)
    priority: str | None = None
    due_date: str | None = None  # as the source wrote it: "YYYY-MM-DD[ HH:MM:SS]" UTC, or ISO 8601
    vendor_key: str | None = None
    service_key: str | None = None  # engagement
    assessment_key: str | None = None
    deleted: bool = False  # gone from the source (found by the sys_id sweep)


class CompanyRef(BaseModel):
    """A company an engagement points at that is not among the synced vendors."""

    key: str
    name: str | None
    is_vendor: bool


class Snapshot(BaseModel):
    """Everything the engine needs from the source for one run."""

    source: str
    users: dict[str, CanonicalUser] = Field(default_factory=dict)
    vendors: dict[str, CanonicalVendor] = Field(default_factory=dict)
    services: dict[str, CanonicalService] = Field(default_factory=dict)
    attachments: dict[str, CanonicalAttachment] = Field(default_factory=dict)
    assessments: dict[str, CanonicalAssessment] = Field(default_factory=dict)
    issues: dict[str, CanonicalIssue] = Field(default_factory=dict)
    company_refs: dict[str, CompanyRef] = Field(default_factory=dict)


# --- canonical hashing ---------------------------------------------------------------------

_WS = re.compile(r"\s+")


def _norm_str(value: str) -> str:
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    if "  " in value or "\n" in value or "\t" in value or "\r" in value:
        value = _WS.sub(" ", value)
    return value.strip()


def normalized(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        return _norm_str(value)
    if isinstance(value, dict):
        # Key order is left to json.dumps(sort_keys=True) and dict equality, which ignore it.
        return {k: _norm_str(v) if type(v) is str else normalized(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        items = [_norm_str(v) if type(v) is str else normalized(v) for v in value]
        # Id sets are unordered in Coverbase: order must not change the hash.
        if key.endswith("_ids") and all(isinstance(i, str) for i in items):
            items = sorted(items)
        return items
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical_hash(payload: dict[str, Any]) -> str:
    """sha256 of the normalised payload: sorted keys, NFC and collapsed whitespace, no nulls,
    id lists as sets. Key order and cosmetic whitespace never cause a resend."""
    text = json.dumps(normalized(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
