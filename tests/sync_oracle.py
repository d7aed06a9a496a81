"""What Coverbase must hold after a full sync, derived straight from the dataset.

Written independently of the engine (plain loops over the raw rows), so the two can disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from connector.emulators.fixtures import DOCUMENT_EXTENSIONS, FOREIGN_ORG_EMAILS, MAX_DOCUMENT_BYTES
from connector.emulators.sn_dataset import Dataset

ENG = "sn_vdr_risk_asmt_vendor_engagement"
ASMT = "sn_vdr_risk_asmt_assessment"


def _email_ok(e: str) -> bool:
    try:
        validate_email(e, check_deliverability=False)
        return True
    except EmailNotValidError:
        return False


@dataclass
class Expected:
    vendors: dict[str, str] = field(default_factory=dict)  # sys_id -> name
    services: dict[str, str] = field(default_factory=dict)  # engagement sys_id -> vendor sys_id
    users: set[str] = field(default_factory=set)  # normalised emails
    documents: dict[str, str] = field(default_factory=dict)  # attachment sys_id -> vendor sys_id
    boms: dict[str, str] = field(default_factory=dict)
    assessments: dict[str, str] = field(default_factory=dict)  # assessment sys_id -> vendor sys_id


def expected(ds: Dataset, *, ineligible=("closed", "cancelled", "canceled")) -> Expected:
    out = Expected()
    companies = ds.tables["core_company"]
    users = ds.tables["sys_user"]
    for sid, r in companies.items():
        if r["vendor"] == "true" and r["name"].strip():
            out.vendors[sid] = r["name"].strip()
    engs = ds.tables[ENG]
    for sid, r in engs.items():
        if r["name"].strip() and r["vendor"] in out.vendors:
            out.services[sid] = r["vendor"]
    asmts = ds.tables[ASMT]
    for sid, r in asmts.items():
        if r["state"] in ineligible or r["vendor"] not in out.vendors:
            continue
        if r["engagement"] and r["engagement"] not in out.services:
            continue
        out.assessments[sid] = r["vendor"]
    refs = set()
    for r in companies.values():
        if r["vendor"] == "true":
            refs |= {x for x in r["vendor_manager"].split(",") if x} | ({r["contact"]} if r["contact"] else set())
    refs |= {r["business_owner"] for r in engs.values() if r["business_owner"]}
    refs |= {r["assigned_to"] for r in asmts.values() if r["assigned_to"] and r["state"] not in ineligible}
    foreign = {e.lower() for e in FOREIGN_ORG_EMAILS}
    for key in refs:
        u = users.get(key)
        if not u or u["active"] != "true":
            continue
        email = u["email"].strip().lower()
        if email and _email_ok(email) and email not in foreign:
            out.users.add(email)
    for sid, row in ds.tables["sys_attachment"].items():
        table, parent = row["table_name"], row["table_sys_id"]
        if table == "core_company":
            vendor = parent if parent in out.vendors else None
        elif table == ENG:
            vendor = out.services.get(parent)
        elif table == ASMT:
            vendor = out.assessments.get(parent) if parent in out.assessments else None
            if vendor is None and parent in asmts and asmts[parent]["vendor"] in out.vendors:
                a = asmts[parent]  # attachments of ineligible assessments still go to their vendor
                vendor = a["vendor"] if (not a["engagement"] or a["engagement"] in out.services) else None
        else:
            vendor = None
        if vendor is None:
            continue
        blob = ds.blobs[sid]
        size = int(row["size_bytes"])
        name = row["file_name"]
        if size == 0 or size > MAX_DOCUMENT_BYTES or "/" in name or "\\" in name:
            continue
        content = b"".join(blob.chunks())
        if row["hash"] and hashlib.sha256(content).hexdigest() != row["hash"]:
            continue
        try:
            doc = json.loads(content)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and (doc.get("bomFormat") == "CycloneDX" or "spdxVersion" in doc):
            if isinstance(doc.get("version", 1), int) and all(c.get("name") for c in doc.get("components", [])):
                out.boms[sid] = vendor
            continue
        if name.rsplit(".", 1)[-1].lower() in DOCUMENT_EXTENSIONS:
            out.documents[sid] = vendor
    return out
