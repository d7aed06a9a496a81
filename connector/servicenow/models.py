"""Typed records of the default schema (issue: pinned default schema).

ServiceNow sends every value as a string; these models turn them into what they mean:
``"true"/"false"`` → bool, ``""`` → None, glide lists → lists of sys_ids, and tolerate the
``{"value", "display_value"}`` shapes in case a caller asked for display values.
Unknown columns (configured extra fields) are kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _raw(v: Any) -> Any:
    if isinstance(v, dict):
        return v.get("value", v.get("display_value", ""))
    return v


def _text(v: Any) -> str | None:
    v = _raw(v)
    if v is None:
        return None
    v = str(v)
    return v if v != "" else None


def _bool(v: Any) -> bool | None:
    v = _raw(v)
    if v in (None, ""):
        return None
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("true", "1", "yes")


def _list(v: Any) -> list[str]:
    v = _raw(v)
    if not v:
        return []
    if isinstance(v, list):
        return [str(x) for x in v if x]
    return [p.strip() for p in str(v).split(",") if p.strip()]


Text = Annotated[str | None, BeforeValidator(_text)]
Ref = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool | None, BeforeValidator(_bool)]
RefList = Annotated[list[str], BeforeValidator(_list)]


class SnRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    sys_id: str
    sys_updated_on: str
    sys_mod_count: Text = None


class SysUser(SnRecord):
    user_name: Text = None
    email: Text = None
    first_name: Text = None
    last_name: Text = None
    name: Text = None
    active: Flag = None
    title: Text = None


class CoreCompany(SnRecord):
    name: Text = None
    vendor: Flag = None
    website: Text = None
    notes: Text = None
    city: Text = None
    state: Text = None
    country: Text = None
    vendor_manager: RefList = []
    contact: Ref = None
    vendor_type: RefList = []


class VendorContact(SnRecord):
    company: Ref = None
    first_name: Text = None
    last_name: Text = None
    name: Text = None
    email: Text = None
    title: Text = None
    phone: Text = None
    primary_contact: Flag = None
    active: Flag = None


class Engagement(SnRecord):
    number: Text = None
    name: Text = None
    description: Text = None
    vendor: Ref = None
    business_owner: Ref = None


class RiskAssessment(SnRecord):
    number: Text = None
    name: Text = None
    vendor: Ref = None
    engagement: Ref = None
    assigned_to: Ref = None
    assessment_template: Ref = None
    state: Text = None
    due_date: Text = None


class AttachmentMeta(SnRecord):
    file_name: str = ""
    content_type: Text = None
    size_bytes: int = 0
    table_name: str = ""
    table_sys_id: str = ""
    hash: Text = None


class RiskIssue(SnRecord):
    """A TPRM / GRC issue in the default field names (other tables are mapped onto these)."""

    number: Text = None
    short_description: Text = None
    description: Text = None
    state: Text = None
    priority: Text = None
    due_date: Text = None
    vendor: Ref = None
    engagement: Ref = None
    assessment: Ref = None
    active: Flag = None
