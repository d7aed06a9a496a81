"""Dataset stage: engagements (the services a vendor provides) and assessments, with their dirty
cases (an engagement of a company that is not a vendor or does not exist, an empty name; cancelled
and closed assessments, a template without control sets, an assignee with an invalid email).
"""

from __future__ import annotations

from connector.emulators.sn_dataset_generator import Generator
from connector.emulators.sn_dataset_words import SERVICES, STATES_ELIGIBLE, TEMPLATES


def engagements(g: Generator) -> list[str]:
    s, rng = g.sizes, g.rng
    rows = g.ds.rows("sn_vdr_risk_asmt_vendor_engagement")
    clean_vendors = g.vendors[2:]
    ids = []
    for i in range(s.engagements):
        sid = g.sid("engagement", i)
        vendor = clean_vendors[i % len(clean_vendors)] if i < len(clean_vendors) else rng.choice(clean_vendors)
        svc = rng.choice(SERVICES)
        rows[sid] = {**g.sys("sn_vdr_risk_asmt_vendor_engagement", sid, bulk=rng.random() < s.bulk_share / 2),
                     "number": f"ENG{1000001 + i:07d}", "name": svc,
                     "description": f"{svc} provided under the 2026 framework agreement.",
                     "vendor": vendor, "business_owner": g.next_user(),
                     "state": rng.choice(["active", "active", "onboarding", "retired"]), "sbom_required": "false"}
        ids.append(sid)
    e = ids
    d = g.dirty
    rows[e[0]]["vendor"] = g.non_vendors[0]
    d("D22", "service", "sn_vdr_risk_asmt_vendor_engagement", e[0], "engagement whose company is not a vendor",
      "invalid", "not a vendor")
    rows[e[1]]["vendor"] = "f" * 32
    d("D23", "service", "sn_vdr_risk_asmt_vendor_engagement", e[1], "engagement whose company does not exist",
      "deferred", "not found")
    rows[e[2]]["vendor"] = g.vendors[0]
    d("D24", "service", "sn_vdr_risk_asmt_vendor_engagement", e[2], "engagement under the empty-name vendor",
      "deferred", "vendor")
    rows[e[3]]["name"] = ""
    d("D25", "service", "sn_vdr_risk_asmt_vendor_engagement", e[3], "engagement with an empty name (repaired)", "ok",
      "named after its number")
    rows[e[4]]["business_owner"] = g.pool[7]
    d("D26", "service", "sn_vdr_risk_asmt_vendor_engagement", e[4], "business owner belongs to another org", "ok",
      "synced without")
    for sid in ids:
        g.engagements_of.setdefault(rows[sid]["vendor"], []).append(sid)
    g.engagement_ids = ids
    return ids


def assessments(g: Generator) -> list[str]:
    s, rng = g.sizes, g.rng
    rows = g.ds.rows("sn_vdr_risk_asmt_assessment")
    tpls = list(g.ds.rows("sn_vdr_risk_asmt_assessment_template"))
    names = g.ds.rows("core_company")
    clean_vendors = [v for v in g.vendors[2:] if g.engagements_of.get(v)]
    ids = []
    for i in range(s.assessments):
        sid = g.sid("assessment", i)
        vendor = clean_vendors[i % len(clean_vendors)]
        engs = [e for e in g.engagements_of.get(vendor, []) if e not in g.engagement_ids[:5]]
        r = rng.random()
        state = rng.choice(STATES_ELIGIBLE) if r < 0.75 else ("closed" if r < 0.9 else "cancelled")
        tpl = rng.choice(tpls[:4])
        rows[sid] = {**g.sys("sn_vdr_risk_asmt_assessment", sid), "number": f"VRA{2000001 + i:07d}",
                     "name": f"{names[vendor]['name']} - 2026 {TEMPLATES[tpls.index(tpl)].lower()}",
                     "vendor": vendor, "engagement": rng.choice(engs) if engs and rng.random() < 0.8 else "",
                     "assigned_to": g.next_user(), "assessment_template": tpl, "state": state,
                     "due_date": f"2026-12-{rng.randint(1, 28):02d}",
                     "applies_to": "sn_vdr_risk_asmt_vendor_engagement", "risk_rating": ""}
        ids.append(sid)
    a = ids
    d = g.dirty
    rows[a[0]]["state"] = "cancelled"
    d("D27", "assessment", "sn_vdr_risk_asmt_assessment", a[0], "cancelled before it was ever synced", "skipped",
      "not eligible")
    rows[a[1]]["state"] = "closed"
    d("D28", "assessment", "sn_vdr_risk_asmt_assessment", a[1], "closed assessment", "skipped", "not eligible")
    rows[a[2]].update(assessment_template=tpls[4], state="draft")
    d("D29", "assessment", "sn_vdr_risk_asmt_assessment", a[2], "template with no control-set mapping", "ok",
      "no control sets mapped")
    rows[a[3]].update(assigned_to=g.pool[2], state="draft")
    d("D30", "assessment", "sn_vdr_risk_asmt_assessment", a[3], "assigned to a user with an invalid email", "ok",
      "without assignee")
    rows[a[4]].update(vendor=g.vendors[0], engagement="", state="draft")
    d("D31", "assessment", "sn_vdr_risk_asmt_assessment", a[4], "assessment of the empty-name vendor", "deferred",
      "vendor")
    rows[a[5]].update(engagement="", state="draft")
    d("D32", "assessment", "sn_vdr_risk_asmt_assessment", a[5], "assessment without an engagement", "ok", "")
    g.assessment_ids = ids
    return ids
