"""Canonical records → Coverbase payloads (pure functions), and the PATCH diff.

Every payload is validated against the client's request model (``extra="forbid"``) before it
is hashed, so a mapping that produces a field Coverbase does not know fails here, loudly.
"""

from __future__ import annotations

from typing import Any

from connector.canonical import (
    CanonicalAssessment,
    CanonicalAttachment,
    CanonicalService,
    CanonicalUser,
    CanonicalVendor,
    normalized,
    valid_email,
)
from connector.config import ConnectorConfig
from connector.coverbase.models import (
    AssessmentCreate,
    PrimaryContact,
    ServiceUpdate,
    UserCreate,
    VendorCreate,
    VendorUpdate,
)

IMMUTABLE = {"external_id"}


def user_payload(u: CanonicalUser, cfg: ConnectorConfig) -> dict[str, Any]:
    return UserCreate(email=u.email or "", first_name=u.first_name, last_name=u.last_name,
                      role=cfg.users.role).body()  # type: ignore[arg-type]


def contact_payload(v: CanonicalVendor) -> tuple[dict[str, Any] | None, str | None]:
    c = v.primary_contact
    if c is None:
        return None, None
    email = (c.email or "").strip()
    if not valid_email(email.lower()):
        who = c.name or "the primary contact"
        return None, f"primary contact {who} has no valid email ({c.email!r}): synced without a primary contact"
    return PrimaryContact(email=email, name=c.name, title=c.title, phone_number=c.phone).body(), None


def vendor_payload(v: CanonicalVendor, owner_ids: list[str], watcher_ids: list[str], contact: dict | None,
                   cfg: ConnectorConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(create body, fields that only PATCH accepts: status_id / tag_ids)."""
    create = VendorCreate(
        name=v.name or "", website=v.website, description=v.description, hq_location=v.hq_location,
        external_id=v.key, relationship_owner_ids=sorted(set(owner_ids)),
        watcher_ids=sorted(set(watcher_ids)) if cfg.vendors.contact_as_watcher else None,
        primary_contact=PrimaryContact(**contact) if contact else None,
    ).body()
    after: dict[str, Any] = {}
    if v.status_value is not None and v.status_value in cfg.vendors.status_map:
        after["status_id"] = cfg.vendors.status_map[v.status_value]
    if cfg.vendors.tag_map:
        after["tag_ids"] = sorted({cfg.vendors.tag_map[t] for t in v.tag_values if t in cfg.vendors.tag_map})
    VendorUpdate(**after)  # validate
    return create, after


def _omit_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# The two payloads below are plain dicts shaped exactly like their request model's ``body()``:
# they are built for every record on every run, and validated by the model when sent.


def service_payload(s: CanonicalService, owner_ids: list[str]) -> dict[str, Any]:
    return _omit_none({"name": s.name or "", "description": s.description, "external_id": s.key,
                       "relationship_owner_ids": sorted(set(owner_ids))})


def document_payload(a: CanonicalAttachment, vendor_id: str, service_ids: list[str], assessment_ids: list[str],
                     cfg: ConnectorConfig) -> dict[str, Any]:
    return _omit_none({"vendor_id": vendor_id, "service_ids": sorted(service_ids),
                       "assessment_ids": sorted(assessment_ids), "name": a.file_name,
                       "document_type": cfg.documents.document_type(a.file_name)})


def assessment_payload(x: CanonicalAssessment, *, vendor_id: str, service_ids: list[str], assignee_id: str | None,
                       control_set_ids: list[str], supporting_document_ids: list[str],
                       cfg: ConnectorConfig) -> dict[str, Any]:
    return AssessmentCreate(vendor_id=vendor_id, control_set_ids=control_set_ids, name=x.name,
                            service_ids=service_ids or None, assignee_id=assignee_id,
                            trigger_workflow=cfg.assessments.trigger_workflow,
                            supporting_document_ids=sorted(supporting_document_ids) or None).body()


def diff(previous: dict[str, Any] | None, desired: dict[str, Any], *, clear_strings: bool = True) -> dict[str, Any]:
    """Fields to PATCH so Coverbase holds ``desired``. PATCH treats null as "no change", so a
    value removed at the source is cleared with "" (strings) or [] (lists)."""
    previous = previous or {}
    out: dict[str, Any] = {}
    for key in sorted(set(previous) | set(desired)):
        if key in IMMUTABLE:
            continue
        want, had = desired.get(key), previous.get(key)
        if normalized(want, key) == normalized(had, key):
            continue
        if want is None:
            if isinstance(had, list):
                out[key] = []
            elif isinstance(had, str) and clear_strings:
                out[key] = ""
            continue  # an object (primary_contact) cannot be cleared through the API
        out[key] = want
    return out


def vendor_update(changes: dict[str, Any]) -> VendorUpdate:
    return VendorUpdate(**changes)


def service_update(changes: dict[str, Any]) -> ServiceUpdate:
    return ServiceUpdate(**changes)
