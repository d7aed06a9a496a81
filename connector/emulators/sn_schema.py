"""Tables and fields of the emulated ServiceNow instance (a superset of what the connector reads).

Feeds ``sys_db_object`` and ``sys_dictionary`` so the connector's start-up validation runs
against the same schema the Table API serves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Col:
    type: str = "string"
    reference: str | None = None
    max_length: int = 255
    display: bool = False  # the table's display field (what reference display values show)


SYS_COLS = {
    "sys_id": Col("GUID", max_length=32),
    "sys_created_on": Col("glide_date_time"),
    "sys_created_by": Col(),
    "sys_updated_on": Col("glide_date_time"),
    "sys_updated_by": Col(),
    "sys_mod_count": Col("integer"),
    "sys_class_name": Col("sys_class_name"),
}

TABLES: dict[str, tuple[str, str | None, dict[str, Col]]] = {
    # name: (label, super_class, own columns)
    "sys_user": ("User", None, {
        "user_name": Col(), "email": Col("email", max_length=100), "first_name": Col(), "last_name": Col(),
        "name": Col(display=True), "active": Col("boolean"), "title": Col(), "phone": Col("ph_number"),
        "department": Col("reference", "cmn_department"), "company": Col("reference", "core_company"),
        "locked_out": Col("boolean"),
    }),
    "vm_vdr_contact": ("Vendor Contact", "sys_user", {
        "company": Col("reference", "core_company"), "primary_contact": Col("boolean"),
    }),
    "cmn_department": ("Department", None, {"name": Col(display=True)}),
    "core_company": ("Company", None, {
        "name": Col(display=True, max_length=80), "vendor": Col("boolean"), "manufacturer": Col("boolean"),
        "customer": Col("boolean"), "website": Col("url", max_length=1024), "notes": Col(max_length=4000),
        "street": Col(), "city": Col(), "state": Col(), "zip": Col(), "country": Col(), "phone": Col("ph_number"),
        "vendor_manager": Col("glide_list", "sys_user", 4000), "contact": Col("reference", "sys_user"),
        "vendor_type": Col("glide_list", "vendor_type", 1024), "parent": Col("reference", "core_company"),
        "rank_tier": Col("choice"), "stock_symbol": Col(),
    }),
    "vendor_type": ("Vendor Type", None, {"name": Col(display=True), "value": Col()}),
    "sn_vdr_risk_asmt_vendor_engagement": ("Engagement", None, {
        "number": Col(display=True, max_length=40), "name": Col(), "description": Col(max_length=4000),
        "vendor": Col("reference", "core_company"), "business_owner": Col("reference", "sys_user"),
        "state": Col("choice"), "sbom_required": Col("boolean"),
    }),
    "sn_vdr_risk_asmt_assessment_template": ("Assessment Template", None, {"name": Col(display=True)}),
    "sn_vdr_risk_asmt_assessment": ("Third-party Risk Assessment", None, {
        "number": Col(display=True, max_length=40), "name": Col(), "vendor": Col("reference", "core_company"),
        "engagement": Col("reference", "sn_vdr_risk_asmt_vendor_engagement"),
        "assigned_to": Col("reference", "sys_user"),
        "assessment_template": Col("reference", "sn_vdr_risk_asmt_assessment_template"),
        "state": Col("choice"), "due_date": Col("glide_date"), "applies_to": Col("table_name"),
        "risk_rating": Col("choice"),
        # Journal fields (entries live in sys_journal_field) and the customer's custom fields for the
        # write-back (servicenow-writes.md §B.5: proposals a customer creates, not TPRM columns).
        "work_notes": Col("journal_input", max_length=4000), "comments": Col("journal_input", max_length=4000),
        "u_coverbase_status": Col(max_length=40), "u_coverbase_score": Col("decimal"),
        "u_coverbase_findings": Col("integer"), "u_coverbase_id": Col(max_length=40),
    }),
    "sys_journal_field": ("Journal Entry", None, {
        "element_id": Col("GUID", max_length=32), "element": Col(max_length=40), "name": Col(max_length=80),
        "value": Col(display=True, max_length=65000),
    }),
    # TPRM issues: column names are not documented (servicenow-writes.md §A.2); these are the pinned guesses.
    "sn_vdr_risk_asmt_issue": ("Third-party risk issue", None, {
        "number": Col(display=True, max_length=40), "short_description": Col(max_length=160),
        "description": Col(max_length=4000), "state": Col("integer"), "priority": Col("integer"),
        "due_date": Col("glide_date_time"), "vendor": Col("reference", "core_company"),
        "engagement": Col("reference", "sn_vdr_risk_asmt_vendor_engagement"),
        "assessment": Col("reference", "sn_vdr_risk_asmt_assessment"), "active": Col("boolean"),
        "applies_to": Col("table_name"), "assigned_to": Col("reference", "sys_user"),
    }),
    # A GRC issue table with a custom third-party reference, for mapping files that add it.
    "sn_grc_issue": ("Issue", None, {
        "number": Col(display=True, max_length=40), "short_description": Col(max_length=160),
        "description": Col(max_length=4000), "state": Col("integer"), "priority": Col("integer"),
        "due_date": Col("glide_date_time"), "u_third_party": Col("reference", "core_company"),
        "active": Col("boolean"), "issue_source": Col("glide_list"),
    }),
    "sys_attachment": ("Attachment", None, {
        "file_name": Col(display=True, max_length=100), "content_type": Col(), "size_bytes": Col("integer"),
        "size_compressed": Col("integer"), "compressed": Col("boolean"), "table_name": Col("table_name"),
        "table_sys_id": Col("document_id"), "hash": Col(max_length=64), "state": Col(),
        "chunk_size_bytes": Col(), "average_image_color": Col(), "image_width": Col("integer"),
        "image_height": Col("integer"), "sys_tags": Col(),
    }),
    "sys_audit_delete": ("Deleted Records", None, {
        "tablename": Col(), "documentkey": Col(display=True), "display_value": Col(),
        "payload": Col("xml", max_length=65000),
    }),
    "sys_db_object": ("Table", None, {"name": Col(display=True), "label": Col(),
                                      "super_class": Col("reference", "sys_db_object")}),
    "sys_dictionary": ("Dictionary Entry", None, {
        "name": Col(), "element": Col(display=True), "internal_type": Col(), "reference": Col(),
        "max_length": Col("integer"),
        "column_label": Col(),
    }),
}


def columns(table: str) -> dict[str, Col]:
    """All columns of a table, inherited ones included (walks super_class)."""
    out: dict[str, Col] = dict(SYS_COLS)
    chain = []
    t: str | None = table
    while t:
        chain.append(t)
        t = TABLES[t][1]
    for t in reversed(chain):
        out.update(TABLES[t][2])
    return out


def display_field(table: str) -> str:
    for name, col in columns(table).items():
        if col.display:
            return name
    return "sys_id"


def subclasses(table: str) -> list[str]:
    """The table and every table that extends it, at any depth."""
    out = [table]
    for name, (_, parent, _) in TABLES.items():
        if parent == table:
            out += subclasses(name)
    return out
