"""Writes examples/grc-export/: a file export as another GRC tool would produce it.

    python examples/make_grc_export.py [folder]

Deterministic: 30 vendors, their services and assessments, a users table, 20 issues, 12 documents and
one CycloneDX SBOM. Formats are mixed on purpose (CSV, XLSX, JSON) to show the source reads them all.
"""

import csv
import json
import random
import sys
from pathlib import Path

from openpyxl import Workbook

from connector.emulators import sn_sboms

NAMES = ["Acme Cloud", "Globex Payroll", "Initech Analytics", "Umbrella Security", "Hooli Mail", "Vandelay Logistics",
         "Stark Hosting", "Wayne Data", "Cyberdyne Robotics", "Tyrell Identity", "Soylent Health", "Wonka Media",
         "Gringotts Capital", "Aperture Labs", "Oscorp Networks", "Massive Dynamic", "Nakatomi Trading",
         "Pied Piper Compression", "Sterling Cooper Ads", "Blue Sun Logistics", "Monarch Staffing", "Dunder Paper",
         "Prestige Worldwide", "Ollivander Supplies", "Krusty Catering", "Virtucon Consulting", "Gekko Brokerage",
         "Zorg Industries", "Bluth Construction", "Los Pollos Hermanos"]
SERVICES = ["Managed hosting", "Payroll processing", "Email delivery", "Endpoint security", "Data warehouse",
            "Background checks", "Translation", "Legal e-billing", "Identity provider", "Log analytics"]
PEOPLE = [("ana", "Ana", "Silva"), ("ben", "Ben", "Okafor"), ("chen", "Chen", "Wei"), ("dora", "Dora", "Novak"),
          ("eli", "Eli", "Cohen"), ("fay", "Fay", "Murphy"), ("gil", "Gil", "Santos"), ("hal", "Hal", "Berg")]


def main(out: Path) -> None:
    rng = random.Random(42)
    (out / "documents").mkdir(parents=True, exist_ok=True)
    (out / "boms").mkdir(exist_ok=True)
    with open(out / "users.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "email", "first_name", "last_name", "active"])
        for key, first, last in PEOPLE:
            w.writerow([f"U-{key}", f"{first.lower()}.{last.lower()}@example-buyer.com", first, last, "yes"])
    wb = Workbook()
    ws = wb.active
    ws.title = "Vendors"
    ws.append(["id", "name", "website", "description", "city", "country", "owners", "contact_email", "contact_name",
               "status", "tags", "documents", "boms"])
    docs = 0
    services, assessments = [], []
    for i, name in enumerate(NAMES):
        vid = f"V-{1001 + i}"
        owners = ";".join(f"U-{PEOPLE[(i + k) % len(PEOPLE)][0]}" for k in range(1 + i % 2))
        if i == 3:
            owners += ";risk.office@example-buyer.com"  # a person named only by email: created from it
        documents = ""
        if i % 3 == 0 and docs < 10:
            fname = f"documents/{name.split()[0].lower()}-soc2-2026.pdf"
            (out / fname).write_bytes(b"%PDF-1.7\n" + f"SOC 2 Type II report of {name}\n".encode() * 20)
            documents = fname
            docs += 1
        boms = ""
        if i == 7:
            boms = "boms/stark-hosting-platform.cdx.json"
            (out / boms).write_bytes(sn_sboms.cyclonedx(random.Random(7), "stark-hosting-platform", name))
        ws.append([vid, f"{name} Ltd", f"https://{name.split()[0].lower()}.example", f"{name}: supplier since 2019.",
                   rng.choice(["London", "Austin", "Berlin", "Dublin"]), rng.choice(["UK", "USA", "DE", "IE"]), owners,
                   f"security@{name.split()[0].lower()}.example", f"{name.split()[0]} Security Desk",
                   rng.choice(["strategic", "tactical"]), rng.choice(["Software", "Services", "Software;Services"]),
                   documents, boms])
        for k in range(1 + (i % 2)):
            sid = f"S-{1001 + i}-{k + 1}"
            doc = ""
            if i == 1 and k == 0:
                doc = "documents/globex-payroll-dpa.docx"
                (out / doc).write_bytes(b"PK\x03\x04" + b"DPA signed 2026" * 30)
            services.append({"id": sid, "vendor_id": vid, "name": SERVICES[(i + k) % len(SERVICES)],
                             "description": f"{SERVICES[(i + k) % len(SERVICES)]} for the group",
                             "owners": owners.split(";")[0],
                             "documents": doc})
        if i % 2 == 0:
            assessments.append({"id": f"A-{2001 + i}", "vendor_id": vid, "service_id": f"S-{1001 + i}-1",
                                "name": f"{name} annual review 2026", "assignee": f"U-{PEOPLE[i % len(PEOPLE)][0]}",
                                "template": "Standard security assessment", "state": "in_progress",
                                "documents": "documents/questionnaire-" + vid.lower() + ".xlsx" if i == 4 else ""})
    (out / "documents" / "questionnaire-v-1005.xlsx").write_bytes(b"PK\x03\x04" + b"SIG Lite answers" * 40)
    wb.save(out / "vendors.xlsx")
    (out / "services.json").write_text(json.dumps(services, indent=2), encoding="utf-8")
    with open(out / "assessments.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(assessments[0]))
        w.writeheader()
        w.writerows(assessments)
    write_issues(out)


ISSUES = ["SOC 2 Type II report missing", "Pen-test finding open: outdated TLS", "No MFA on admin accounts",
          "Subprocessor list out of date", "DPA not signed", "Business continuity plan not tested"]
STATES = ["New", "Analyze", "Respond", "Review", "Closed Complete", "Cancelled"]


def write_issues(out: Path) -> None:
    """issues.csv: open points raised on vendors, their services and their assessments."""
    rng = random.Random(43)
    rows = []
    for i in range(20):
        v = i % 30
        row = {"id": f"I-{3001 + i}", "number": f"ISS-{3001 + i}", "title": ISSUES[i % len(ISSUES)],
               "description": "Raised in the 2026 review." if i % 3 else "", "state": STATES[i % len(STATES)],
               "due_date": f"2026-12-{1 + rng.randrange(28):02d}" if i % 4 else "",
               "vendor_id": f"V-{1001 + v}", "service_id": "", "assessment_id": ""}
        if i % 5 == 1:
            row["service_id"] = f"S-{1001 + v}-1"
        if i % 5 == 2 and v % 2 == 0:
            row["assessment_id"] = f"A-{2001 + v}"
        rows.append(row)
    rows[7]["title"] = ""  # titled with its number
    with open(out / "issues.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "grc-export")
