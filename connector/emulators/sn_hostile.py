"""A hostile world on top of any dataset: what real ServiceNow instances send that a tidy dataset never
does, mixed in by seed. Tests use it to check the connector against variations nobody on this
project would have put in the base data:

- free text that quotes ServiceNow's own error sentences (a vendor note pasted from a support ticket
  says "Transaction cancelled: maximum execution time exceeded", or holds an HTML page);
- attachments whose declared type lies (a PDF served as ``text/html``, a saved trust-center page that
  really is HTML, JSON declared as ``application/octet-stream``), odd but harmless names;
- metadata that does not parse (``size_bytes`` of ``"12 KB"``);
- reference fields holding a display value (the vendor's *name*) instead of a sys_id, as a
  scripted field or an import that wrote names leaves them.

``apply(emu, seed)`` adds them through the emulator's own insert/update paths (so they get fresh
``sys_updated_on`` stamps like any change) and returns what each one is and what the connector must
make of it. Nothing here changes the base datasets or their dirty-case list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from connector.emulators.sn_instance import ServiceNowInstance

CANCEL = "Transaction cancelled: maximum execution time exceeded"
ENG = "sn_vdr_risk_asmt_vendor_engagement"
ASMT = "sn_vdr_risk_asmt_assessment"

NOTES = [
    f"Ticket INC0012345 (pasted): {CANCEL}. Check logs for error trace or enable glide.rest.debug property.",
    'Their portal said {"error":{"message":"' + CANCEL + '","detail":"Check logs"},"status":"failure"}',
    "API answered: User Not Authenticated / Required to provide Auth information. Retried next day.",
    "<html><head><title>Instance Hibernating page</title></head><body>saved by mistake</body></html>",
    "Invalid table sn_vdr_risk_asmt_issue — ask the platform team. 202 Accepted, 429 Rate limit exceeded.",
]


@dataclass(frozen=True)
class HostileCase:
    table: str
    sys_id: str
    what: str
    entity: str  # ledger entity the record lands in ("document" covers document-or-BOM attachments)
    status: str  # ledger status the connector must give it
    reason_has: str = ""  # a fragment the outcome's reason must contain (non-ok outcomes)


def _vendors(emu: ServiceNowInstance) -> list[dict[str, str]]:
    rows = [r for r in emu.tables["core_company"].values() if r.get("vendor") == "true" and r.get("name", "").strip()]
    return sorted(rows, key=lambda r: r["sys_id"])


def apply(emu: ServiceNowInstance, seed: int) -> list[HostileCase]:
    rng = random.Random(seed)
    vendors = _vendors(emu)
    picks = rng.sample(vendors, k=min(len(vendors), 6))
    cases: list[HostileCase] = []

    for v, note in zip(picks[:3], rng.sample(NOTES, 3)):  # notes quoting the instance's own error sentences
        emu.update("core_company", v["sys_id"], {"notes": note})
        cases.append(HostileCase("core_company", v["sys_id"], "notes quote a ServiceNow error", "vendor", "ok"))

    host = picks[3] if len(picks) > 3 else vendors[0]
    page = b"<!doctype html><html><body><h1>Trust center</h1><p>SOC 2 report on request.</p></body></html>"
    a = emu.add_attachment("core_company", host["sys_id"], "trust-center.html", page, "text/html")
    cases.append(HostileCase("sys_attachment", a["sys_id"], "a saved web page (.html)", "document", "invalid",
                             "file type .html is not allowed by Coverbase"))
    pdf = b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(2048)) + b"\n%%EOF\n"
    a = emu.add_attachment("core_company", host["sys_id"], "Security whitepaper.pdf", pdf, "text/html")
    cases.append(HostileCase("sys_attachment", a["sys_id"], "a PDF served as text/html", "document", "ok"))
    csv = "name,country\nAcme Hosting,DE\n".encode()
    a = emu.add_attachment("core_company", host["sys_id"], "subprocessors.CSV", csv, "application/octet-stream")
    cases.append(HostileCase("sys_attachment", a["sys_id"], "an upper-case extension, generic type", "document", "ok"))
    a = emu.add_attachment("core_company", host["sys_id"], "board minutes.pdf", b"%PDF-1.4\nminutes\n%%EOF\n",
                           "application/pdf")
    emu.update("sys_attachment", a["sys_id"], {"size_bytes": "12 KB"})
    cases.append(HostileCase("sys_attachment", a["sys_id"], "size_bytes that is not a number", "document", "invalid",
                             "size_bytes"))

    named = picks[4] if len(picks) > 4 else vendors[-1]
    e = emu.insert(ENG, {"number": f"ENG9{rng.randrange(10**5):05d}", "name": "Display-value engagement",
                         "vendor": named["name"], "description": "vendor holds a name", "business_owner": ""})
    cases.append(HostileCase(ENG, e["sys_id"], "vendor reference holds a display value", "service", "invalid",
                             "not a sys_id"))
    x = emu.insert(ASMT, {"number": f"VRA9{rng.randrange(10**5):05d}", "name": "Display-value assessment",
                          "vendor": named["name"], "engagement": "", "assigned_to": "", "assessment_template": "",
                          "state": "draft", "due_date": ""})
    cases.append(HostileCase(ASMT, x["sys_id"], "vendor reference holds a display value", "assessment", "invalid",
                             "not a sys_id"))
    return cases
