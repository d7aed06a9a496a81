"""A record as the Table API shows it: ``sysparm_fields``, ``sysparm_display_value`` (false, true,
all), ``sysparm_exclude_reference_link``, reference links and display values, one level of
dot-walking, dates in the instance's display time zone, and the fields a read ACL hides
(``sn_acl.visible``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.emulators import sn_acl, sn_schema
from connector.emulators.sn_instance import ServiceNowInstance


def _display(inst: ServiceNowInstance, col: sn_schema.Col, value: str) -> str:
    if value == "":
        return ""
    if col.type == "glide_date_time":
        dt = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).astimezone(inst.display_tz)
        return dt.strftime("%m/%d/%Y %I:%M:%S %p")
    if col.type == "choice":
        return value.replace("_", " ").capitalize()
    if col.type == "glide_list" and col.reference:
        return ", ".join(_ref_display(inst, col.reference, v) for v in value.split(",") if v)
    return value


def _ref_display(inst: ServiceNowInstance, table: str, sys_id: str) -> str:
    for t in sn_schema.subclasses(table):
        row = inst.tables.get(t, {}).get(sys_id)
        if row:
            return row.get(sn_schema.display_field(t), "")
    return ""


def render(inst: ServiceNowInstance, table: str, row: dict[str, str], fields: list[str] | None, display_value: str,
           exclude_link: bool, base: str) -> dict[str, Any]:
    cls = row.get("sys_class_name") or table
    cols = sn_schema.columns(cls if cls in sn_schema.TABLES else table)
    out: dict[str, Any] = {}
    names = sn_acl.visible(inst.faults, table, fields or [c for c in cols if c in row or c in sn_schema.SYS_COLS])
    for f in names:
        if "." in f:  # one level of dot-walking: company.name
            ref, _, sub = f.partition(".")
            col = cols.get(ref)
            if col is None or col.type != "reference" or not row.get(ref):
                continue
            target = inst.find(col.reference, row[ref])
            if target is not None and sub in target:
                out[f] = target[sub] if display_value == "false" else (
                    {"display_value": target[sub], "value": target[sub]} if display_value == "all" else target[sub])
            continue
        col = cols.get(f)
        if col is None:
            continue  # unknown fields in sysparm_fields are ignored, like the real API
        v = row.get(f, "")
        if col.type == "reference":
            if v == "":
                out[f] = {"display_value": "", "value": ""} if display_value == "all" else ""
                continue
            link = f"{base}/api/now/table/{col.reference}/{v}"
            dv = _ref_display(inst, col.reference, v)
            if display_value == "false":
                out[f] = v if exclude_link else {"link": link, "value": v}
            elif display_value == "true":
                out[f] = dv if exclude_link else {"display_value": dv, "link": link}
            else:
                out[f] = ({"display_value": dv, "value": v} if exclude_link
                          else {"display_value": dv, "link": link, "value": v})
        elif display_value == "false":
            out[f] = v
        elif display_value == "true":
            out[f] = _display(inst, col, v)
        else:
            out[f] = {"display_value": _display(inst, col, v), "value": v}
    return out
