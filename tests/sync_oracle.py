"""What Coverbase must hold after a full sync, derived straight from the dataset.

Written independently of the engine (plain loops over the raw rows), so the two can disagree.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from connector.emulators.fixtures import DOCUMENT_EXTENSIONS, FOREIGN_ORG_EMAILS, MAX_DOCUMENT_BYTES
from connector.emulators.sn_dataset import Dataset

ENG = "sn_vdr_risk_asmt_vendor_engagement"
ASMT = "sn_vdr_risk_asmt_assessment"
ISSUE = "sn_vdr_risk_asmt_issue"
_MARKER = re.compile(r"\(sys_id ([0-9a-f]{32})\)\s*$")


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
    document_content: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # sys_id -> (vendor, name, sha256)
    boms: dict[str, str] = field(default_factory=dict)
    assessments: dict[str, str] = field(default_factory=dict)  # assessment sys_id -> vendor sys_id
    # issue sys_id -> (title, "vendor" | "assessment", vendor or assessment sys_id, due date in Unix seconds)
    findings: dict[str, tuple[str, str, str, int | None]] = field(default_factory=dict)


def expected(ds: Dataset, *, ineligible=("closed", "cancelled", "canceled")) -> Expected:
    out = Expected()
    companies = ds.tables["core_company"]
    users = ds.tables["sys_user"]
    for sid, r in companies.items():
        if r["vendor"] == "true" and r["name"].strip():
            out.vendors[sid] = r["name"].strip()
    engs = ds.tables[ENG]
    for sid, r in engs.items():
        # An engagement without a name is named after its number (a repair, not a refusal).
        if (r["name"].strip() or r.get("number", "").strip()) and r["vendor"] in out.vendors:
            out.services[sid] = r["vendor"]
    asmts = ds.tables[ASMT]
    for sid, r in asmts.items():
        if r["state"] in ineligible or r["vendor"] not in out.vendors:
            continue
        if r["engagement"] and r["engagement"] not in out.services:
            continue
        out.assessments[sid] = r["vendor"]
    for sid, r in ds.tables.get(ISSUE, {}).items():
        title = r["short_description"].strip() or r["number"].strip()
        if not title or r["state"] == "7":  # no title: invalid; cancelled: never created
            continue
        due = int(datetime.strptime(r["due_date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()) \
            if r["due_date"] else None
        a = r["assessment"]
        if a in out.assessments:
            out.findings[sid] = (title, "assessment", a, due)
            continue
        if a in asmts and asmts[a]["state"] not in ineligible:
            continue  # an assessment that will be created once its vendor syncs: the issue waits for it
        vendor = r["vendor"] or engs.get(r["engagement"], {}).get("vendor") or asmts.get(a, {}).get("vendor")
        if vendor in out.vendors:
            out.findings[sid] = (title, "vendor", vendor, due)
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
        try:
            size = int(row["size_bytes"])
        except ValueError:
            continue  # metadata that does not parse: the record is invalid, never uploaded
        # A file name is a label in Coverbase: the last path component, without leading dots or spaces.
        name = re.split(r"[/\\]", row["file_name"])[-1].lstrip(". ").rstrip()
        if size == 0 or size > MAX_DOCUMENT_BYTES:
            continue
        content = b"".join(blob.chunks())
        if row["hash"] and hashlib.sha256(content).hexdigest() != row["hash"]:
            continue
        try:
            doc = json.loads(content)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and (doc.get("bomFormat") == "CycloneDX" or "spdxVersion" in doc):
            out.boms[sid] = vendor  # well-formed: delivered, whatever its schema says (Coverbase judges)
            continue
        if name.rsplit(".", 1)[-1].lower() in DOCUMENT_EXTENSIONS:
            out.documents[sid] = vendor
            out.document_content[sid] = (vendor, name, hashlib.sha256(content).hexdigest())
    return out


def coverbase_view(h) -> dict:
    st = h.cb_state()
    users = {u["email"].lower(): u["id"] for u in st["users"]}
    vendors = {v["external_id"]: v for v in st["vendors"]}
    return {"state": st, "users": users, "vendors": vendors}


def assert_end_state(h) -> None:
    exp = expected(h.sn.emu.ds)
    view = coverbase_view(h)
    st = view["state"]
    ext_ids = [v["external_id"] for v in st["vendors"]]
    assert len(ext_ids) == len(set(ext_ids)), "duplicate vendors"
    assert set(ext_ids) == set(exp.vendors)
    assert {v["external_id"]: v["name"] for v in st["vendors"]} == exp.vendors
    services = {s["external_id"]: v["external_id"] for v in st["vendors"] for s in v["services"]}
    all_services = [s["external_id"] for v in st["vendors"] for s in v["services"]]
    assert len(all_services) == len(set(all_services)), "duplicate services"
    assert services == exp.services
    assert set(view["users"]) == exp.users
    by_cb_vendor = {v["id"]: v["external_id"] for v in st["vendors"]}
    live_docs = [d for d in st["documents"] if not d["is_archived"]]
    # Same-named files on one vendor are told apart by content, not by which row they came from.
    assert Counter((by_cb_vendor[d["vendor_id"]], d["name"], d["sha256"]) for d in live_docs) == \
        Counter(exp.document_content.values())
    assert Counter(by_cb_vendor[b["vendor_id"]] for b in st["boms"]) == Counter(exp.boms.values())
    assert Counter(by_cb_vendor[a["vendor_id"]] for a in st["assessments"] if not a["is_archived"]) == \
        Counter(exp.assessments.values())
    assert_findings(h, exp)


def issue_of(finding: dict) -> str | None:
    """The ServiceNow issue a finding was made from: its body's last line names it."""
    m = _MARKER.search(finding.get("body") or "")
    return m.group(1) if m else None


def assert_findings(h, exp: Expected, *, status_map: dict[str, str] | None = None) -> None:
    """Each expected issue is exactly one live finding, on the right target, with its title, due date
    and (when a status map is given) status; no other live finding made from an issue."""
    st = h.cb_state()
    vendors = {v["id"]: v["external_id"] for v in st["vendors"]}
    assessments = {a["id"]: a for a in st["assessments"]}
    asmt_rows = h.sn.emu.ds.tables[ASMT]
    issues = h.sn.emu.ds.tables.get(ISSUE, {})
    live = [f for f in st["findings"] if not f["is_archived"] and issue_of(f)]
    made = Counter(issue_of(f) for f in live)
    assert not [k for k, n in made.items() if n > 1], "duplicate findings"
    assert set(made) == set(exp.findings), (sorted(set(made) - set(exp.findings)),
                                            sorted(set(exp.findings) - set(made)))
    for f in live:
        key = issue_of(f)
        title, kind, target, due = exp.findings[key]
        assert f["title"] == title and f["due_date"] == due, (key, f)
        if kind == "vendor":
            assert f["assessment_id"] is None and vendors[f["vendor_id"]] == target, (key, f)
        else:
            a = assessments[f["assessment_id"]]
            assert vendors[a["vendor_id"]] == asmt_rows[target]["vendor"] and a["name"] == asmt_rows[target]["name"]
        if status_map is not None:
            assert f["finding_status_id"] == status_map.get(issues[key]["state"]), (key, f)


def assert_no_duplicates_and_ledger_consistent(cb_state: dict, ledger_rows: list[dict]) -> None:
    """Zero duplicates of any entity in Coverbase, and the ledger and Coverbase agree both ways."""
    vendors = cb_state["vendors"]
    assert len({v["external_id"] for v in vendors}) == len(vendors), "duplicate vendors"
    services = [s for v in vendors for s in v["services"]]
    assert len({s["external_id"] for s in services}) == len(services), "duplicate services"
    docs = [d for d in cb_state["documents"] if not d["is_archived"]]
    assert len({(d["vendor_id"], d["name"], d["sha256"]) for d in docs}) == len(docs), "duplicate documents"
    boms = [b for b in cb_state["boms"] if not b["is_archived"]]
    assert len({(b["vendor_id"], b["document"]["name"], b["sha256"]) for b in boms}) == len(boms), "duplicate BOMs"
    live = [a for a in cb_state["assessments"] if not a["is_archived"]]
    assert len({(a["vendor_id"], a["name"]) for a in live}) == len(live), "duplicate assessments"
    ids = {"vendor": {v["id"] for v in vendors}, "service": {s["id"] for s in services},
           "document": {d["id"] for d in docs}, "bom": {b["id"] for b in boms},
           "assessment": {a["id"] for a in live}, "user": {u["id"] for u in cb_state["users"]}}
    made = [f for f in cb_state.get("findings", []) if issue_of(f)]  # made from an issue (not by hand)
    live_made = Counter(issue_of(f) for f in made if not f["is_archived"])
    assert not [k for k, n in live_made.items() if n > 1], "duplicate findings"
    ids["finding"] = {f["id"] for f in made if not f["is_archived"]}
    synced = {e: {r["coverbase_id"] for r in ledger_rows if r["entity"] == e and r["status"] == "ok"} for e in ids}
    every_finding = {f["id"] for f in cb_state.get("findings", [])}
    assert synced["finding"] <= every_finding, f"ledger says synced but Coverbase lacks findings: " \
                                                f"{synced['finding'] - every_finding}"
    synced["finding"] &= ids["finding"]  # archived with their assessment: still the ledger's
    for entity, held in ids.items():
        assert synced[entity] <= held, f"ledger says synced but Coverbase lacks {entity}: {synced[entity] - held}"
        if entity != "user":  # users may pre-exist in the org
            assert held <= synced[entity], f"Coverbase holds {entity} the ledger does not know: {held - synced[entity]}"
