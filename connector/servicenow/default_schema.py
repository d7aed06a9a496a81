"""The tables and fields the connector reads by default (pinned by the ServiceNow issue).

Every entry is overridable in the mapping file (``source.tables``).
"""

from __future__ import annotations

USERS = "sys_user"
VENDORS = "core_company"
CONTACTS = "vm_vdr_contact"
ENGAGEMENTS = "sn_vdr_risk_asmt_vendor_engagement"
ASSESSMENTS = "sn_vdr_risk_asmt_assessment"
ATTACHMENTS = "sys_attachment"
ISSUES = "sn_vdr_risk_asmt_issue"

DEFAULT_TABLES: dict[str, dict] = {
    "users": {"table": USERS, "filter": "",
              "fields": ["sys_id", "user_name", "email", "first_name", "last_name", "name", "active", "title",
                         "sys_updated_on"]},
    "vendors": {"table": VENDORS, "filter": "vendor=true",
                "fields": ["sys_id", "name", "vendor", "website", "notes", "city", "state", "country",
                           "vendor_manager", "contact", "vendor_type", "sys_updated_on"]},
    "contacts": {"table": CONTACTS, "filter": "",
                 "fields": ["sys_id", "company", "first_name", "last_name", "name", "email", "title", "phone",
                            "primary_contact", "active", "sys_updated_on"]},
    "engagements": {"table": ENGAGEMENTS, "filter": "",
                    "fields": ["sys_id", "number", "name", "description", "vendor", "business_owner",
                               "sys_updated_on"]},
    "assessments": {"table": ASSESSMENTS, "filter": "",
                    "fields": ["sys_id", "number", "name", "vendor", "engagement", "assigned_to",
                               "assessment_template", "state", "due_date", "sys_updated_on"]},
    # Pinned by the findings issue. Column names of the TPRM issue table are not documented: start-up
    # validation against sys_dictionary catches a wrong guess; more issue tables go under ``issues_<name>``.
    "issues": {"table": ISSUES, "filter": "",
               "fields": ["sys_id", "number", "short_description", "description", "state", "priority", "due_date",
                          "vendor", "engagement", "assessment", "active", "sys_updated_on"]},
}

# Attachments are read from the Attachment API for records of these tables.
ATTACHMENT_PARENTS = [VENDORS, ENGAGEMENTS, ASSESSMENTS]
