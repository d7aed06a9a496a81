"""ServiceNow staging rows → canonical records: pure functions of the default mapping (pinned).

- vendor: ``name``, ``website``, ``description`` = notes, ``hq_location`` = non-empty of city,
  state, country joined with ", ", owners = vendor_manager, primary contact = the
  vm_vdr_contact with primary_contact=true (else none); status and tags only through maps;
- service: engagement ``name``, ``description``, under its ``vendor``, owner = business_owner;
- assessment: vendor, engagement, assigned_to, template, state, name;
- issue: see ``servicenow_issues.py``;
- attachment: parent entity from its table (core_company → vendor, engagement → service,
  assessment → assessment), kind from the content probe made at extraction.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from connector.canonical import (
    CanonicalAssessment,
    CanonicalAttachment,
    CanonicalService,
    CanonicalUser,
    CanonicalVendor,
    CompanyRef,
    Contact,
    Snapshot,
)
from connector.config import ConnectorConfig
from connector.record_repairs import repair_email
from connector.servicenow.models import (
    AttachmentMeta,
    CoreCompany,
    Engagement,
    RiskAssessment,
    SysUser,
    VendorContact,
)
from connector.sources.servicenow_issues import snapshot_issues
from connector.state import StagedRow, StateDB

SOURCE = "servicenow"
_SYS_ID = re.compile(r"[0-9a-f]{32}")


def _why(exc: ValidationError, record: dict[str, Any]) -> list[str]:
    """One reason per field that failed, naming the field and the value (shortened)."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        value = record.get(str(err["loc"][0])) if err["loc"] else None
        shown = repr(value)[:60] if value is not None else "missing"
        out.append(f"field {field} = {shown}: {err['msg'].removeprefix('Value error, ')}")
    return out


def _ref_problem(table: str, field: str, value: str | None) -> str | None:
    """A reference that is not a sys_id: ServiceNow sent a display value (a mis-set
    ``sysparm_display_value``, a scripted field, an import that wrote a name), or junk."""
    if value is None or _SYS_ID.fullmatch(value):
        return None
    return (f"{table}.{field} holds {value[:60]!r}, which is not a sys_id (a display value instead of the "
            "reference?): cannot tell which record it points at")


def _validated(model, row: StagedRow):
    """(typed record, problems): a malformed value makes this one record invalid, never the run.
    The fields that did validate are kept, so the record still has a label and its links."""
    try:
        return model.model_validate(row.record), []
    except ValidationError as exc:
        problems = _why(exc, row.record)
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        partial = {k: v for k, v in row.record.items() if k not in bad}
        return model.model_construct(**{**{f: None for f in model.model_fields}, **partial,
                                        "sys_id": row.key}), problems


def _clean(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    return v or None


def map_user(row: StagedRow) -> CanonicalUser:
    u, problems = _validated(SysUser, row)
    label = _clean(u.name) or _clean(u.user_name) or u.sys_id
    email, repaired = repair_email(u.email)
    return CanonicalUser(source=SOURCE, key=u.sys_id, label=label, updated_on=u.sys_updated_on, force=row.force,
                         email_raw=email, first_name=_clean(u.first_name), last_name=_clean(u.last_name),
                         active=u.active is not False, problems=problems, repairs=[repaired] if repaired else [])


def primary_contact(contacts: list[VendorContact]) -> Contact | None:
    primaries = [c for c in contacts if c.primary_contact and c.active is not False]
    if not primaries:
        return None
    c = max(primaries, key=lambda c: (c.sys_updated_on, c.sys_id))  # the latest edit wins a tie
    name = _clean(c.name) or " ".join(p for p in (_clean(c.first_name), _clean(c.last_name)) if p) or None
    return Contact(email=_clean(c.email), name=name, title=_clean(c.title), phone=_clean(c.phone))


def map_vendor(row: StagedRow, contacts: list[VendorContact], cfg: ConnectorConfig,
               vendor_type_names: dict[str, list[str]]) -> CanonicalVendor:
    c, problems = _validated(CoreCompany, row)
    status = None
    if cfg.vendors.status_field:
        status = _clean(str(row.record.get(cfg.vendors.status_field) or ""))
    tags: list[str] = []
    for vt in c.vendor_type:
        tags += vendor_type_names.get(vt, []) + [vt]
    location = ", ".join(p for p in (_clean(c.city), _clean(c.state), _clean(c.country)) if p) or None
    return CanonicalVendor(
        source=SOURCE, key=c.sys_id, label=_clean(c.name) or f"(no name) {c.sys_id}", updated_on=c.sys_updated_on,
        force=row.force, name=_clean(c.name), website=_clean(c.website), description=c.notes,
        hq_location=location, owner_keys=list(dict.fromkeys(c.vendor_manager)), contact_key=c.contact,
        primary_contact=primary_contact(contacts), status_value=status, tag_values=tags,
        is_vendor=c.vendor is not False, problems=problems)


def map_service(row: StagedRow, table: str = "engagement") -> CanonicalService:
    e, problems = _validated(Engagement, row)
    problems += [p for p in [_ref_problem(table, "vendor", e.vendor)] if p]
    name, repairs = _clean(e.name), []
    if name is None and _clean(e.number):  # the engagement's number is what people call it by
        name = _clean(e.number)
        repairs.append(f"the engagement has no name: named after its number {name}")
    return CanonicalService(source=SOURCE, key=e.sys_id, label=_clean(e.name) or e.number or e.sys_id,
                            updated_on=e.sys_updated_on, force=row.force, name=name,
                            description=e.description, vendor_key=e.vendor,
                            owner_keys=[e.business_owner] if e.business_owner else [], problems=problems,
                            repairs=repairs)


def map_assessment(row: StagedRow, template_names: dict[str, str],
                   table: str = "assessment") -> CanonicalAssessment:
    a, problems = _validated(RiskAssessment, row)
    problems += [p for p in (_ref_problem(table, "vendor", a.vendor), _ref_problem(table, "engagement", a.engagement))
                 if p]
    return CanonicalAssessment(source=SOURCE, key=a.sys_id, label=_clean(a.name) or a.number or a.sys_id,
                               updated_on=a.sys_updated_on, force=row.force, name=_clean(a.name),
                               vendor_key=a.vendor, service_key=a.engagement, assignee_key=a.assigned_to,
                               template_key=a.assessment_template,
                               template_name=template_names.get(a.assessment_template or ""),
                               state=_clean(a.state), deleted=row.deleted_at is not None, problems=problems)


def map_attachment(row: StagedRow, parent_entity_by_table: dict[str, str]) -> CanonicalAttachment:
    m, problems = _validated(AttachmentMeta, row)
    problems += [p for p in [_ref_problem("sys_attachment", "table_sys_id", m.table_sys_id or None)] if p]
    return CanonicalAttachment(source=SOURCE, key=m.sys_id, label=str(m.file_name or m.sys_id),
                               updated_on=m.sys_updated_on, force=row.force, file_name=str(m.file_name or ""),
                               content_type=m.content_type, size=m.size_bytes if isinstance(m.size_bytes, int) else 0,
                               sha256=(m.hash or None), parent_table=str(m.table_name or ""),
                               parent_entity=parent_entity_by_table.get(m.table_name or ""),  # type: ignore[arg-type]
                               parent_key=m.table_sys_id or None, kind=row.kind, kind_reason=row.kind_reason,
                               file_ref=m.sys_id, deleted=row.deleted_at is not None, problems=problems)


def build_snapshot(state: StateDB, cfg: ConnectorConfig) -> Snapshot:
    t = cfg.source.tables
    snap = Snapshot(source=SOURCE)
    contacts: dict[str, list[VendorContact]] = {}
    for row in state.staged("contacts", SOURCE):
        c = VendorContact.model_validate(row.record)
        if c.company:
            contacts.setdefault(c.company, []).append(c)
    vendor_types = {r.key: [v for v in (r.record.get("name"), r.record.get("value")) if v]
                    for r in state.staged("vendor_types", SOURCE)}
    templates = {r.key: r.record.get("name") or "" for r in state.staged("templates", SOURCE)}
    for row in state.staged("users", SOURCE):
        u = map_user(row)
        snap.users[u.key] = u
    for row in state.staged("vendors", SOURCE):
        v = map_vendor(row, contacts.get(row.key, []), cfg, vendor_types)
        snap.vendors[v.key] = v
    for row in state.staged("company_refs", SOURCE):
        snap.company_refs[row.key] = CompanyRef(key=row.key, name=_clean(row.record.get("name")),
                                                is_vendor=str(row.record.get("vendor")).lower() == "true")
    for row in state.staged("engagements", SOURCE):
        s = map_service(row, t["engagements"].table)
        snap.services[s.key] = s
    for row in state.staged("assessments", SOURCE, include_deleted=True):
        a = map_assessment(row, templates, t["assessments"].table)
        eng = snap.services.get(a.service_key or "")
        if not a.vendor_key and eng is not None and eng.vendor_key:  # its engagement says whose it is
            a = a.model_copy(update={"vendor_key": eng.vendor_key, "repairs": [
                f"the assessment has no vendor: took its engagement's vendor {eng.vendor_key}"]})
        snap.assessments[a.key] = a
    snap.issues = snapshot_issues(state, cfg)
    parents = {t["vendors"].table: "vendor", t["engagements"].table: "service", t["assessments"].table: "assessment"}
    for row in state.staged("attachments", SOURCE, include_deleted=True):
        a = map_attachment(row, parents)
        snap.attachments[a.key] = a
    return snap
