"""TPRM issues (``sn_vdr_risk_asmt_issue``) of the emulated dataset, with their dirty cases.

Issues hang on vendors, on engagements (some without a vendor of their own) and on assessments.
They are generated after everything else with their own random stream, so the rest of a dataset
is byte-identical with or without them. States use the GRC numbering (1 New, 2 Analyze, 5 Respond,
0 Review, 3 Closed Complete, 4 Closed Incomplete, 7 Cancelled). A few ``sn_grc_issue`` rows with a
custom ``u_third_party`` reference exist for mapping files that add that table.
"""

from __future__ import annotations

import random
from datetime import timedelta

from connector.emulators.sn_dataset_generator import Generator
from connector.emulators.sn_dataset_model import BASE, SPAN_SECONDS, fmt

TABLE = "sn_vdr_risk_asmt_issue"
GRC_TABLE = "sn_grc_issue"
COUNTS = {"small": 40, "medium": 150, "reference": 600}
OPEN_STATES = ["1", "1", "2", "2", "5", "0", "3", "4"]
SUBJECTS = ["SOC 2 Type II report missing", "Pen-test finding open: outdated TLS configuration",
            "No evidence of MFA on admin accounts", "Subprocessor list out of date", "DPA not signed",
            "Business continuity plan not tested this year", "Encryption at rest not confirmed",
            "Vulnerability scan shows critical CVEs", "Insurance certificate expired",
            "Incident response contact missing", "Data retention policy unclear", "ISO 27001 certificate expired"]


def _sys(rng: random.Random, table: str, sys_id: str) -> dict[str, str]:
    created = BASE + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    updated = created + timedelta(seconds=rng.randrange(0, 3 * 24 * 3600))
    return {"sys_id": sys_id, "sys_created_on": fmt(created), "sys_created_by": "admin",
            "sys_updated_on": fmt(min(updated, BASE + timedelta(seconds=SPAN_SECONDS))), "sys_updated_by": "admin",
            "sys_mod_count": str(rng.randint(0, 6)), "sys_class_name": table}


def generate(g: Generator) -> None:
    """Add the issues to the dataset of ``g`` (a generator that has run up to attachments)."""
    name = g.ds.name
    rng = random.Random(f"{g.seed}:{name}:issues")
    rows = g.ds.rows(TABLE)
    engagements = g.ds.rows("sn_vdr_risk_asmt_vendor_engagement")
    assessments = g.ds.rows("sn_vdr_risk_asmt_assessment")
    clean_vendors = g.vendors[2:]
    clean_engs = g.engagement_ids[5:]
    # Assessments the connector creates: eligible state, a clean vendor, an engagement that syncs.
    created = [a for a in g.assessment_ids[6:] if assessments[a]["state"] not in ("closed", "cancelled")]
    ids: list[str] = []

    def issue(i: int, **fields: str) -> str:
        sid = g.sid("issue", i)
        due = BASE + timedelta(days=rng.randint(20, 120))
        rows[sid] = {**_sys(rng, TABLE, sid), "number": f"VRI{3000001 + i:07d}",
                     "short_description": rng.choice(SUBJECTS),
                     "description": rng.choice(["", "Raised during the annual review.\nOwner: third-party risk team.",
                                                "Evidence requested twice; no answer yet."]),
                     "state": rng.choice(OPEN_STATES), "priority": str(rng.randint(1, 4)),
                     "due_date": fmt(due) if rng.random() < 0.8 else "", "vendor": "", "engagement": "",
                     "assessment": "", "active": "true", "applies_to": "core_company", "assigned_to": g.next_user()}
        rows[sid].update(fields)
        if rows[sid]["state"] in ("3", "4", "7"):
            rows[sid]["active"] = "false"
        ids.append(sid)
        return sid

    for i in range(COUNTS[name]):
        r = rng.random()
        if r < 0.4:
            issue(i, vendor=rng.choice(clean_vendors))
        elif r < 0.65:
            eng = rng.choice(clean_engs)
            # Some engagement issues carry no vendor of their own: it comes from the engagement.
            issue(i, engagement=eng, vendor=engagements[eng]["vendor"] if rng.random() < 0.7 else "",
                  applies_to="sn_vdr_risk_asmt_vendor_engagement")
        else:
            a = rng.choice(created)
            issue(i, assessment=a, vendor=assessments[a]["vendor"] if rng.random() < 0.8 else "",
                  applies_to="sn_vdr_risk_asmt_assessment")
    n = COUNTS[name]
    d = g.dirty
    sid = issue(n, vendor="", engagement="", assessment="")
    d("", "finding", TABLE, sid, "issue with no vendor, engagement or assessment", "invalid", "no vendor")
    sid = issue(n + 1, vendor=g.vendors[0])
    d("", "finding", TABLE, sid, "issue of a vendor that is not synced (empty name)", "deferred", "waiting for vendor")
    sid = issue(n + 2, vendor="e" * 32)
    d("", "finding", TABLE, sid, "issue of a company that does not exist", "deferred", "not found")
    sid = issue(n + 3, vendor=g.non_vendors[0])
    d("", "finding", TABLE, sid, "issue of a company that is not a vendor", "invalid", "not a vendor")
    sid = issue(n + 4, vendor=clean_vendors[3], short_description="")
    d("", "finding", TABLE, sid, "issue with an empty short description", "ok", "titled with its number")
    sid = issue(n + 5, vendor=clean_vendors[4], short_description="   ", number="")
    d("", "finding", TABLE, sid, "issue with neither short description nor number", "invalid", "no title")
    sid = issue(n + 6, vendor=clean_vendors[5], state="9")
    d("", "finding", TABLE, sid, "issue in a state outside the GRC numbering ('9')", "ok", "unknown state '9'")
    sid = issue(n + 7, vendor=clean_vendors[6], state="7")
    d("", "finding", TABLE, sid, "issue cancelled before it was ever synced", "skipped", "archive state")
    closed = g.assessment_ids[1]  # the dataset's closed assessment: never created
    sid = issue(n + 8, assessment=closed, vendor=assessments[closed]["vendor"])
    d("", "finding", TABLE, sid, "issue of an assessment the connector does not create (closed)", "ok",
      "placed on the vendor")
    waiting = g.assessment_ids[4]  # assessment of the empty-name vendor: waits for it
    sid = issue(n + 9, assessment=waiting, vendor="")
    d("", "finding", TABLE, sid, "issue of an assessment that waits for its vendor", "deferred", "waiting for")
    eng = clean_engs[0]
    sid = issue(n + 10, engagement=eng, vendor="", due_date="")
    d("", "finding", TABLE, sid, "engagement issue without a vendor or due date", "ok", "")
    sid = issue(n + 11, vendor=clean_vendors[7], description="Line one.\n\nLine two with ünïcödé, <b>html</b> & "
                "“quotes”.\n" + "Long text. " * 300)
    d("", "finding", TABLE, sid, "long multi-line description with markup and unicode", "ok", "")
    g.issue_ids = ids
    grc = g.ds.rows(GRC_TABLE)
    for k in range(6):
        sid = g.sid("grc_issue", k)
        grc[sid] = {**_sys(rng, GRC_TABLE, sid), "number": f"IPT{4000001 + k:07d}",
                    "short_description": f"Control test failed: {rng.choice(SUBJECTS).lower()}", "description": "",
                    "state": rng.choice(OPEN_STATES[:6]), "priority": "3", "due_date": "",
                    "u_third_party": clean_vendors[10 + k] if k < 4 else "", "active": "true", "issue_source": ""}
