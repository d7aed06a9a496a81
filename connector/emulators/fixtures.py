"""Fixed identifiers both emulators and the demo agree on.

Coverbase has no endpoint to list status, tag or control-set ids (contract §4 q6), so real
deployments configure them; the emulator's org knows these, and the demo config uses them.
"""

DEMO_API_KEY = "ak_test_demo_0123456789abcdef"
DEMO_SN_USER = "integration.user"
DEMO_SN_PASSWORD = "demo-password-not-secret"
DEMO_SN_CLIENT_ID = "demo-client-id"
DEMO_SN_CLIENT_SECRET = "demo-client-secret-not-secret"

# Emails owned by a user of *another* Coverbase org: POST /v1/users answers 409 user_exists.
FOREIGN_ORG_EMAILS = (
    "shared.auditor@partnerfirm.example",
    "consultant@bigfour.example",
    "j.smith@contractor.example",
)

CONTROL_SETS = {
    "cbctst_0000000000000000000000000000a001": "SIG Lite 2026",
    "cbctst_0000000000000000000000000000a002": "SOC 2 Trust Services Criteria",
    "cbctst_0000000000000000000000000000a003": "ISO 27001:2022 Annex A",
    "cbctst_0000000000000000000000000000a004": "DORA ICT third-party",
}

STATUSES = {
    "cbst_00000000000000000000000000000b01": "Active",
    "cbst_00000000000000000000000000000b02": "Onboarding",
    "cbst_00000000000000000000000000000b03": "Offboarding",
    "cbst_00000000000000000000000000000b04": "Terminated",
}

# Finding statuses are status records of their own (``cbst_``), not the vendor statuses above.
FINDING_STATUSES = {
    "cbst_00000000000000000000000000000f01": "Open",
    "cbst_00000000000000000000000000000f02": "In progress",
    "cbst_00000000000000000000000000000f03": "Remediated",
    "cbst_00000000000000000000000000000f04": "Risk accepted",
    "cbst_00000000000000000000000000000f05": "Closed",
}

TAGS = {
    "cbtag_00000000000000000000000000000c01": "software",
    "cbtag_00000000000000000000000000000c02": "services",
    "cbtag_00000000000000000000000000000c03": "hardware",
    "cbtag_00000000000000000000000000000c04": "applications",
}

WORKFLOWS = {
    "annual-reassessment-flow": True,
    "onboard-vendor": True,
    "quarterly-privacy-sweep": True,
    "legacy-intake": False,  # exists but disabled: 409 workflow_disabled
}

DOCUMENT_TYPES = (
    "soc2_type1_auditor_report", "soc2_type2_auditor_report", "iso27001_certificate",
    "penetration_test_report", "commercial_contract", "data_processing_agreement",
    "security_questionnaire", "privacy_policy", "insurance_certificate",
    "business_continuity_plan", "bridge_letter", "other",
)

DOCUMENT_EXTENSIONS = (
    "pdf", "doc", "docx", "rtf", "txt", "md", "xls", "xlsx", "xlsm", "csv",
    "ppt", "pptx", "png", "jpg", "jpeg", "gif", "webp", "zip",
)

MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
