"""Deterministic TPRM dataset for the ServiceNow emulator, with the dirty cases real instances have.

``build("small")`` (tests), ``build("medium")`` (crash tests), ``build("reference")`` (benchmarks:
1,000+ vendors, 2,500 engagements, 5,000 users of which ~2,000 referenced, 3,000 attachments,
100 SBOMs, 800 assessments). Same name, same seed → byte-identical data.

Every dirty case is registered in ``Dataset.dirty`` with the outcome the connector must give
it; docs/dirty-cases.md is generated from that list and the sync tests assert it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connector.emulators import sn_sboms
from connector.emulators.fixtures import FOREIGN_ORG_EMAILS

BASE = datetime(2026, 10, 1, tzinfo=UTC)
SPAN_SECONDS = 30 * 24 * 3600
BULK_TS = "2026-10-05 12:00:00"  # a bulk import: hundreds of rows share this second
BIG_FILE_SIZE = 100 * 1024 * 1024 + 1  # one byte over Coverbase's 100 MiB limit

FIRST = ["Ada", "Ben", "Chloé", "Dana", "Eitan", "Fatima", "Gus", "Hana", "Igor", "Jana", "Kofi", "Lena", "Mateo",
         "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wei", "Xenia", "Yusuf", "Zoë"]
LAST = ["Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Hughes", "Ivanova", "Jensen", "Kim",
        "López", "Murphy", "Nakamura", "O'Brien", "Patel", "Quispe", "Rossi", "Schmidt", "Tanaka", "Ueda", "Varga",
        "Wójcik", "Xu", "Yilmaz", "Zimmermann"]
TITLES = ["Procurement Manager", "IT Director", "Security Analyst", "Vendor Manager", "CISO", "Privacy Officer",
          "Finance Controller", "Head of Operations", "Risk Analyst", "Legal Counsel"]
PREFIX = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Cyberdyne", "Tyrell",
          "Soylent", "Wonka", "Gringotts", "Aperture", "Oscorp", "Massive", "Nakatomi", "Pied Piper", "Sterling",
          "Blue Sun", "Monarch", "Dunder", "Prestige", "Ollivander", "Krusty", "Virtucon", "Gekko", "Zorg"]
SUFFIX = ["Cloud", "Systems", "Analytics", "Payments", "Logistics", "Security", "Software", "Consulting", "Data",
          "Networks", "Labs", "Health", "Staffing", "Hosting", "Media", "Robotics", "Capital", "Telecom"]
FORMS = ["Inc.", "LLC", "Ltd", "GmbH", "S.A.", "B.V.", "plc", "Pty Ltd", "AB", "Oy"]
PLACES = [("Austin", "TX", "USA"), ("London", "", "United Kingdom"), ("Berlin", "", "Germany"),
          ("Bangalore", "Karnataka", "India"), ("Toronto", "ON", "Canada"), ("Sydney", "NSW", "Australia"),
          ("Dublin", "", "Ireland"), ("São Paulo", "SP", "Brazil"), ("Tokyo", "", "Japan"), ("", "", "Singapore"),
          ("Tel Aviv", "", "Israel"), ("Amsterdam", "", "Netherlands"), ("", "", "")]
SERVICES = ["Managed hosting", "Payroll processing", "Customer support outsourcing", "Email delivery",
            "Endpoint security", "Data warehouse", "Background checks", "Translation services", "Legal e-billing",
            "Travel booking", "Document e-signature", "Identity provider", "Code hosting", "Log analytics",
            "Office cleaning", "Print services", "Market data feed", "CRM platform", "HR information system"]
TEMPLATES = ["Standard security assessment", "Privacy assessment", "Financial viability review",
             "Critical supplier (DORA) assessment", "Legacy questionnaire"]
STATES_ELIGIBLE = ["draft", "submitted_to_third_party", "responses_received", "generating_observations", "finalizing"]
DOC_KINDS = [  # (name pattern, extension, content type, header)
    ("{v}_SOC2_Type_II_2026", "pdf", "application/pdf", b"%PDF-1.7\n"),
    ("{v} ISO 27001 certificate", "pdf", "application/pdf", b"%PDF-1.6\n"),
    ("{v} penetration test summary", "pdf", "application/pdf", b"%PDF-1.7\n"),
    ("Master services agreement - {v}", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("DPA {v} signed", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("SIG Lite responses {v}", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("{v} insurance certificate", "pdf", "application/pdf", b"%PDF-1.4\n"),
    ("architecture diagram", "png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("meeting notes", "md", "text/markdown", b"# Notes\n"),
    ("subprocessor list", "csv", "text/csv", b"name,country,service\n"),
    ("evidence pack", "zip", "application/zip", b"PK\x03\x04"),
    ("remediation plan", "txt", "text/plain", b"Remediation plan\n"),
]


@dataclass(frozen=True)
class Sizes:
    vendors: int
    non_vendors: int
    users: int
    referenced_users: int
    engagements: int
    attachments: int
    sboms: int
    assessments: int
    bulk_share: float = 0.3


SIZES = {
    "small": Sizes(vendors=30, non_vendors=3, users=70, referenced_users=45, engagements=50, attachments=40,
                   sboms=5, assessments=25),
    "medium": Sizes(vendors=200, non_vendors=8, users=900, referenced_users=400, engagements=450, attachments=400,
                    sboms=12, assessments=150),
    "reference": Sizes(vendors=1000, non_vendors=25, users=5000, referenced_users=2000, engagements=2500,
                       attachments=3000, sboms=100, assessments=800),
}


@dataclass
class Blob:
    """An attachment's bytes: kept in memory, or produced as a deterministic stream."""

    content: bytes | None = None
    stream_size: int = 0
    stream_seed: int = 0
    stream_kind: str = "random"  # or a generated SBOM (connector/emulators/big_sbom.py)

    def chunks(self, chunk: int = 64 * 1024) -> Iterator[bytes]:
        if self.content is not None:
            for i in range(0, len(self.content), chunk):
                yield self.content[i:i + chunk]
            return
        if self.stream_kind != "random":
            from connector.emulators import big_sbom

            yield from big_sbom.chunks(self.stream_kind, self.stream_size, self.stream_seed, chunk)
            return
        block = random.Random(self.stream_seed).randbytes(chunk)
        left = self.stream_size
        while left > 0:
            n = min(chunk, left)
            yield block[:n]
            left -= n


@dataclass(frozen=True)
class DirtyCase:
    code: str
    entity: str  # ledger entity that shows the outcome
    table: str
    sys_id: str
    what: str
    status: str  # ledger status the connector must end in
    reason: str  # substring of the ledger message (empty: none expected)


@dataclass
class Dataset:
    name: str
    seed: int
    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)
    dirty: list[DirtyCase] = field(default_factory=list)

    def rows(self, table: str) -> dict[str, dict[str, str]]:
        return self.tables.setdefault(table, {})


def fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


class _Gen:
    def __init__(self, name: str, seed: int) -> None:
        self.sizes = SIZES[name]
        self.seed = seed
        self.rng = random.Random(f"{seed}:{name}")
        self.ds = Dataset(name, seed)
        self.user_cursor = 0

    def sid(self, table: str, i: int | str) -> str:
        return hashlib.sha1(f"{self.seed}|{table}|{i}".encode()).hexdigest()[:32]

    def times(self, bulk: bool = False) -> tuple[str, str]:
        created = BASE + timedelta(seconds=self.rng.randrange(SPAN_SECONDS))
        if bulk:
            return fmt(min(created, datetime(2026, 10, 5, 12, tzinfo=UTC))), BULK_TS
        updated = created + timedelta(seconds=self.rng.randrange(0, 5 * 24 * 3600))
        return fmt(created), fmt(min(updated, BASE + timedelta(seconds=SPAN_SECONDS)))

    def sys(self, table: str, sys_id: str, bulk: bool = False, cls: str | None = None) -> dict[str, str]:
        created, updated = self.times(bulk)
        return {"sys_id": sys_id, "sys_created_on": created, "sys_created_by": "admin", "sys_updated_on": updated,
                "sys_updated_by": "import" if bulk else "admin", "sys_mod_count": str(self.rng.randint(0, 4)),
                "sys_class_name": cls or table}

    def dirty(self, code: str, entity: str, table: str, sys_id: str, what: str, status: str, reason: str = "") -> None:
        # Codes are numbered in registration order; the literal at the call site is only a reading aid.
        code = f"D{len(self.ds.dirty) + 1:02d}"
        self.ds.dirty.append(DirtyCase(code, entity, table, sys_id, what, status, reason))

    # --- reference tables -------------------------------------------------------------------

    def lookups(self) -> None:
        for i, name in enumerate(TEMPLATES):
            sid = self.sid("tpl", i)
            self.ds.rows("sn_vdr_risk_asmt_assessment_template")[sid] = {**self.sys("sn_vdr_risk_asmt_assessment_template", sid), "name": name}
        for i, name in enumerate(["applications", "hardware", "services", "software"]):
            sid = self.sid("vtype", i)
            self.ds.rows("vendor_type")[sid] = {**self.sys("vendor_type", sid), "name": name.title(), "value": name}
        for i, name in enumerate(["Procurement", "IT", "Security", "Finance", "Legal"]):
            sid = self.sid("dept", i)
            self.ds.rows("cmn_department")[sid] = {**self.sys("cmn_department", sid), "name": name}

    # --- users ------------------------------------------------------------------------------

    def users(self) -> list[str]:
        s, rng = self.sizes, self.rng
        rows = self.ds.rows("sys_user")
        depts = list(self.ds.rows("cmn_department"))
        ids = []
        for i in range(s.users):
            sid = self.sid("sys_user", i)
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + i // len(FIRST)) % len(LAST)]
            local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
            email = f"{local}{i}@globex-corp.example"
            rows[sid] = {**self.sys("sys_user", sid, bulk=rng.random() < s.bulk_share),
                         "user_name": f"{local}{i}", "email": email, "first_name": first, "last_name": last,
                         "name": f"{first} {last}", "active": "true" if rng.random() > 0.05 or i < s.referenced_users else "false",
                         "title": rng.choice(TITLES), "phone": f"+1 512 555 {1000 + i % 9000:04d}",
                         "department": rng.choice(depts), "company": "", "locked_out": "false"}
            ids.append(sid)
        pool = ids[: s.referenced_users]
        # Dirty users sit at fixed places of the referenced pool.
        rows[pool[0]]["email"] = "  Dana.Lee@Globex-Corp.example "
        rows[pool[1]]["email"] = "dana.lee@globex-corp.example"
        rows[pool[0]].update(first_name="Dana", last_name="Lee", name="Dana Lee")
        rows[pool[1]].update(first_name="Dana", last_name="Lee", name="Dana Lee")
        rows[pool[2]]["email"] = "not-an-email"
        rows[pool[3]]["email"] = "jane.doe@"
        rows[pool[4]]["email"] = ""
        rows[pool[5]]["active"] = "false"
        for k, email in enumerate(FOREIGN_ORG_EMAILS):
            rows[pool[6 + k]]["email"] = email
        d = self.dirty
        d("D01", "user", "sys_user", pool[0], "two sys_user rows whose emails differ only in case and whitespace",
          "ok", "same Coverbase user as")
        d("D02", "user", "sys_user", pool[2], "email 'not-an-email'", "invalid", "not a valid email address")
        d("D03", "user", "sys_user", pool[3], "email 'jane.doe@' (no domain)", "invalid", "not a valid email address")
        d("D04", "user", "sys_user", pool[4], "referenced user with an empty email", "invalid", "has no email")
        d("D05", "user", "sys_user", pool[5], "inactive user referenced as vendor manager", "skipped", "inactive")
        d("D06", "user", "sys_user", pool[6], "email owned by a user of another Coverbase org", "rejected", "user_exists")
        self.pool = pool
        return pool

    def next_user(self) -> str:
        # Round-robin over the clean part of the pool first, so ~all of it ends up referenced.
        clean = self.pool[9:]
        u = clean[self.user_cursor % len(clean)]
        self.user_cursor += 1
        return u

    # --- companies, contacts -----------------------------------------------------------------

    def companies(self) -> tuple[list[str], list[str]]:
        s, rng = self.sizes, self.rng
        rows = self.ds.rows("core_company")
        vtypes = list(self.ds.rows("vendor_type"))
        vendors, non_vendors, used = [], [], set()
        for i in range(s.vendors + s.non_vendors):
            sid = self.sid("core_company", i)
            while True:
                name = f"{rng.choice(PREFIX)} {rng.choice(SUFFIX)} {rng.choice(FORMS)}"
                if name not in used:
                    used.add(name)
                    break
            city, state, country = rng.choice(PLACES)
            is_vendor = i < s.vendors
            slug = name.split()[0].lower()
            rows[sid] = {**self.sys("core_company", sid, bulk=rng.random() < s.bulk_share * 0.8),
                         "name": name, "vendor": "true" if is_vendor else "false", "manufacturer": "false",
                         "customer": "false" if is_vendor else "true", "website": f"https://www.{slug}{i}.example",
                         "notes": rng.choice(["", f"Key supplier for {rng.choice(SERVICES).lower()}.",
                                              "Renewal due next quarter. Contact via portal."]),
                         "street": f"{rng.randint(1, 999)} Main St", "city": city, "state": state, "zip": "",
                         "country": country, "phone": "", "rank_tier": rng.choice(["strategic", "tactical", "valued"]),
                         "vendor_manager": ",".join(self.next_user() for _ in range(rng.choice([1, 1, 2]))) if is_vendor else "",
                         "contact": self.next_user() if is_vendor else "",
                         "vendor_type": ",".join(rng.sample(vtypes, rng.randint(0, 2))), "parent": "", "stock_symbol": ""}
            (vendors if is_vendor else non_vendors).append(sid)
        v = vendors
        d = self.dirty
        rows[v[0]]["name"] = ""
        d("D08", "vendor", "core_company", v[0], "vendor with an empty name", "invalid", "name is empty")
        rows[v[1]]["name"] = "   "
        d("D09", "vendor", "core_company", v[1], "vendor whose name is only whitespace", "invalid", "name is empty")
        unicode_names = ["Société Générale de Sécurité S.A.", "Müller & Söhne Prüfdienste GmbH", "株式会社サンプル情報システム",
                         "شركة الأمن السيبراني المحدودة", "חברת אבטחת מידע בע״מ"]
        for k, name in enumerate(unicode_names):
            rows[v[2 + k]]["name"] = name
        d("D10", "vendor", "core_company", v[2], "unicode name with accents", "ok", "")
        d("D11", "vendor", "core_company", v[4], "CJK name", "ok", "")
        d("D12", "vendor", "core_company", v[5], "right-to-left (Arabic) name", "ok", "")
        d("D13", "vendor", "core_company", v[6], "right-to-left (Hebrew) name with a gershayim", "ok", "")
        rows[v[7]]["notes"] = ("Long-form due diligence notes. " * 200)[:4000]
        d("D14", "vendor", "core_company", v[7], "4,000-character notes", "ok", "")
        rows[v[10]]["website"] = "www.no-scheme-vendor.example"
        d("D15", "vendor", "core_company", v[10], "website without a scheme", "ok", "")
        rows[v[11]]["vendor_manager"] = f"{'0' * 24}deadbeef,{self.next_user()}"
        d("D16", "vendor", "core_company", v[11], "vendor manager list names a sys_user that does not exist", "ok",
          "no such sys_user")
        rows[v[12]]["vendor_manager"] = f"{self.pool[0]},{self.pool[1]}"
        d("D17", "vendor", "core_company", v[12], "vendor managers are the same person twice (case/whitespace emails)",
          "ok", "")
        rows[v[13]]["vendor_manager"] = f"{self.pool[2]},{self.pool[5]}"
        d("D18", "vendor", "core_company", v[13], "vendor managers are an invalid-email user and an inactive user",
          "ok", "synced without")
        rows[v[14]]["contact"] = self.pool[6]
        rows[v[15]]["vendor_manager"] = f"{self.pool[3]},{self.pool[4]},{self.pool[7]}"
        d("D19", "vendor", "core_company", v[15], "vendor managers include another org's user", "ok", "synced without")
        self.vendors, self.non_vendors = vendors, non_vendors
        return vendors, non_vendors

    def contacts(self) -> None:
        rng = self.rng
        rows = self.ds.rows("vm_vdr_contact")
        companies = self.ds.rows("core_company")
        n = 0
        for k, vid in enumerate(self.vendors):
            if k == 9:  # D20: a vendor without any contact
                continue
            count = rng.choice([1, 1, 2, 3])
            has_primary = rng.random() < 0.85 or k == 8
            for j in range(count):
                sid = self.sid("vm_vdr_contact", n)
                n += 1
                first, last = rng.choice(FIRST), rng.choice(LAST)
                slug = (companies[vid]["website"].split("www.")[-1].split("/")[0]) or "vendor.example"
                email = f"{first}.{last}".lower().replace("'", "") + f"@{slug}"
                rows[sid] = {**self.sys("vm_vdr_contact", sid, cls="vm_vdr_contact"), "company": vid,
                             "first_name": first, "last_name": last, "name": f"{first} {last}", "email": email,
                             "title": rng.choice(["Account Manager", "Security Lead", "DPO", "CTO"]),
                             "phone": f"+44 20 7946 {rng.randint(0, 9999):04d}",
                             "primary_contact": "true" if (j == 0 and has_primary) else "false", "active": "true",
                             "user_name": email, "locked_out": "false", "department": ""}
                if k == 8 and j == 0:
                    rows[sid]["email"] = "security at vendor dot com"
        self.dirty("D20", "vendor", "core_company", self.vendors[9], "vendor without any contact", "ok", "")
        self.dirty("D21", "vendor", "core_company", self.vendors[8], "primary contact with an invalid email", "ok",
                   "primary contact")

    # --- engagements, assessments -----------------------------------------------------------

    def engagements(self) -> list[str]:
        s, rng = self.sizes, self.rng
        rows = self.ds.rows("sn_vdr_risk_asmt_vendor_engagement")
        clean_vendors = self.vendors[2:]
        ids = []
        self.engagements_of: dict[str, list[str]] = {}
        for i in range(s.engagements):
            sid = self.sid("engagement", i)
            vendor = clean_vendors[i % len(clean_vendors)] if i < len(clean_vendors) else rng.choice(clean_vendors)
            svc = rng.choice(SERVICES)
            rows[sid] = {**self.sys("sn_vdr_risk_asmt_vendor_engagement", sid, bulk=rng.random() < s.bulk_share / 2),
                         "number": f"ENG{1000001 + i:07d}", "name": svc,
                         "description": f"{svc} provided under the 2026 framework agreement.",
                         "vendor": vendor, "business_owner": self.next_user(),
                         "state": rng.choice(["active", "active", "onboarding", "retired"]), "sbom_required": "false"}
            ids.append(sid)
        e = ids
        d = self.dirty
        rows[e[0]]["vendor"] = self.non_vendors[0]
        d("D22", "service", "sn_vdr_risk_asmt_vendor_engagement", e[0], "engagement whose company is not a vendor",
          "invalid", "not a vendor")
        rows[e[1]]["vendor"] = "f" * 32
        d("D23", "service", "sn_vdr_risk_asmt_vendor_engagement", e[1], "engagement whose company does not exist",
          "deferred", "not found")
        rows[e[2]]["vendor"] = self.vendors[0]
        d("D24", "service", "sn_vdr_risk_asmt_vendor_engagement", e[2], "engagement under the empty-name vendor",
          "deferred", "vendor")
        rows[e[3]]["name"] = ""
        d("D25", "service", "sn_vdr_risk_asmt_vendor_engagement", e[3], "engagement with an empty name (repaired)", "ok",
          "named after its number")
        rows[e[4]]["business_owner"] = self.pool[7]
        d("D26", "service", "sn_vdr_risk_asmt_vendor_engagement", e[4], "business owner belongs to another org", "ok",
          "synced without")
        for sid in ids:
            self.engagements_of.setdefault(rows[sid]["vendor"], []).append(sid)
        self.engagement_ids = ids
        return ids

    def assessments(self) -> list[str]:
        s, rng = self.sizes, self.rng
        rows = self.ds.rows("sn_vdr_risk_asmt_assessment")
        tpls = list(self.ds.rows("sn_vdr_risk_asmt_assessment_template"))
        names = self.ds.rows("core_company")
        clean_vendors = [v for v in self.vendors[2:] if self.engagements_of.get(v)]
        ids = []
        for i in range(s.assessments):
            sid = self.sid("assessment", i)
            vendor = clean_vendors[i % len(clean_vendors)]
            engs = [e for e in self.engagements_of.get(vendor, []) if e not in self.engagement_ids[:5]]
            r = rng.random()
            state = rng.choice(STATES_ELIGIBLE) if r < 0.75 else ("closed" if r < 0.9 else "cancelled")
            tpl = rng.choice(tpls[:4])
            rows[sid] = {**self.sys("sn_vdr_risk_asmt_assessment", sid), "number": f"VRA{2000001 + i:07d}",
                         "name": f"{names[vendor]['name']} - 2026 {TEMPLATES[tpls.index(tpl)].lower()}",
                         "vendor": vendor, "engagement": rng.choice(engs) if engs and rng.random() < 0.8 else "",
                         "assigned_to": self.next_user(), "assessment_template": tpl, "state": state,
                         "due_date": f"2026-12-{rng.randint(1, 28):02d}",
                         "applies_to": "sn_vdr_risk_asmt_vendor_engagement", "risk_rating": ""}
            ids.append(sid)
        a = ids
        d = self.dirty
        rows[a[0]]["state"] = "cancelled"
        d("D27", "assessment", "sn_vdr_risk_asmt_assessment", a[0], "cancelled before it was ever synced", "skipped",
          "not eligible")
        rows[a[1]]["state"] = "closed"
        d("D28", "assessment", "sn_vdr_risk_asmt_assessment", a[1], "closed assessment", "skipped", "not eligible")
        rows[a[2]].update(assessment_template=tpls[4], state="draft")
        d("D29", "assessment", "sn_vdr_risk_asmt_assessment", a[2], "template with no control-set mapping", "ok",
          "no control sets mapped")
        rows[a[3]].update(assigned_to=self.pool[2], state="draft")
        d("D30", "assessment", "sn_vdr_risk_asmt_assessment", a[3], "assigned to a user with an invalid email", "ok",
          "without assignee")
        rows[a[4]].update(vendor=self.vendors[0], engagement="", state="draft")
        d("D31", "assessment", "sn_vdr_risk_asmt_assessment", a[4], "assessment of the empty-name vendor", "deferred",
          "vendor")
        rows[a[5]].update(engagement="", state="draft")
        d("D32", "assessment", "sn_vdr_risk_asmt_assessment", a[5], "assessment without an engagement", "ok", "")
        self.assessment_ids = ids
        return ids

    # --- attachments ------------------------------------------------------------------------

    def _attach(self, n: int, table: str, parent: str, file_name: str, content_type: str, blob: Blob,
                size: int, *, with_hash: bool = True, hidden: bool = False, bad_hash: bool = False) -> str:
        sid = self.sid("sys_attachment", n)
        digest = ""
        if with_hash:
            h = hashlib.sha256()
            for c in blob.chunks():
                h.update(c)
            digest = h.hexdigest() if not bad_hash else hashlib.sha256(b"something else").hexdigest()
        row = {**self.sys("sys_attachment", sid), "file_name": file_name, "content_type": content_type,
               "size_bytes": str(size), "size_compressed": str(size), "compressed": "false",
               "table_name": ("ZZ_YY" + table) if hidden else table, "table_sys_id": parent, "hash": digest,
               "state": "available", "chunk_size_bytes": "700000", "average_image_color": "", "image_width": "",
               "image_height": "", "sys_tags": ""}
        self.ds.rows("sys_attachment")[sid] = row
        self.ds.blobs[sid] = blob
        return sid

    def attachments(self) -> None:
        s, rng = self.sizes, self.rng
        companies = self.ds.rows("core_company")
        clean_vendors = self.vendors[2:]
        n = 0

        def doc_blob(kind: tuple, size: int) -> Blob:
            header = kind[3]
            body = random.Random(f"{self.seed}:blob:{n}").randbytes(max(0, size - len(header)))
            if kind[1] in ("md", "csv", "txt"):
                body = (b"line of text for the evidence file\n" * (size // 35 + 1))[: max(0, size - len(header))]
            return Blob(content=header + body)

        for i in range(s.attachments):
            r = rng.random()
            if r < 0.6:
                table, parent = "core_company", rng.choice(clean_vendors)
                vname = companies[parent]["name"].split()[0]
            elif r < 0.85:
                table, parent = "sn_vdr_risk_asmt_vendor_engagement", rng.choice(self.engagement_ids[5:])
                vname = "engagement"
            else:
                table, parent = "sn_vdr_risk_asmt_assessment", rng.choice(self.assessment_ids[6:])
                vname = "assessment"
            kind = rng.choice(DOC_KINDS)
            size = int(min(48_000, max(300, rng.lognormvariate(8.6, 0.9))))
            blob = doc_blob(kind, size)
            self._attach(n, table, parent, f"{kind[0].format(v=vname)}.{kind[1]}", kind[2], blob, len(blob.content),
                         with_hash=rng.random() > 0.1)
            n += 1

        def add(table: str, parent: str, name: str, ctype: str, blob: Blob, size: int, **kw) -> str:
            nonlocal n
            sid = self._attach(n, table, parent, name, ctype, blob, size, **kw)
            n += 1
            return sid

        v = clean_vendors
        d = self.dirty
        cc = "core_company"
        sid = add(cc, v[0], "vendor-installer.exe", "application/x-msdownload", Blob(b"MZ" + b"\0" * 500), 502)
        d("D33", "document", "sys_attachment", sid, "executable attachment (.exe)", "invalid", "not allowed")
        sid = add(cc, v[1], "kickoff meeting.msg", "application/vnd.ms-outlook", Blob(b"\xd0\xcf\x11\xe0" * 64), 256)
        d("D34", "document", "sys_attachment", sid, "Outlook message (.msg)", "invalid", "not allowed")
        sid = add(cc, v[2], "empty-evidence.pdf", "application/pdf", Blob(b""), 0)
        d("D35", "document", "sys_attachment", sid, "zero-byte file", "invalid", "empty")
        sid = add(cc, v[3], "full-pentest-recording.zip", "application/zip",
                  Blob(stream_size=BIG_FILE_SIZE, stream_seed=self.seed), BIG_FILE_SIZE, with_hash=False)
        d("D36", "document", "sys_attachment", sid, "file one byte over 100 MiB (served as a stream)", "invalid",
          "exceeds")
        sid = add(cc, v[4], "../../etc/passwd.pdf", "application/pdf", Blob(b"%PDF-1.4 x"), 10)
        d("D37", "document", "sys_attachment", sid, "path-traversal file name '../../etc/passwd.pdf' (repaired)", "ok",
          "sent as 'passwd.pdf'")
        sid = add(cc, v[5], "..\\..\\windows\\win.ini.txt", "text/plain", Blob(b"[fonts]\n"), 8)
        d("D38", "document", "sys_attachment", sid, "path-traversal file name with backslashes (repaired)", "ok",
          "sent as 'win.ini.txt'")
        sid = add(cc, v[6], "corrupted-report.pdf", "application/pdf", Blob(b"%PDF-1.7 truncated"), 18, bad_hash=True)
        d("D39", "document", "sys_attachment", sid, "content does not match ServiceNow's sha256 hash", "invalid",
          "does not match")
        sid = add(cc, self.vendors[0], "orphan evidence.pdf", "application/pdf", Blob(b"%PDF-1.7 orphan"), 15)
        d("D40", "document", "sys_attachment", sid, "attachment on the empty-name vendor", "deferred", "vendor")
        sid = add(cc, v[7], "vendor-config.json", "application/json", Blob(b'{"feature_flags": {"x": true}}'), 30)
        d("D41", "document", "sys_attachment", sid, "JSON file that is not a BOM (.json not allowed as a document)",
          "invalid", "not allowed")
        sid = add(cc, v[8], "signature.png", "image/png", Blob(b"\x89PNG\r\n\x1a\nhidden"), 14, hidden=True)
        d("D42", "document", "sys_attachment", sid, "hidden ZZ_YY attachment (image field)", "absent", "")

        # SBOMs: detected by content. Mostly on engagements (the service they describe).
        for k in range(s.sboms):
            if k % 10 < 7:
                table, parent = "sn_vdr_risk_asmt_vendor_engagement", self.engagement_ids[5 + (k * 7) % (len(self.engagement_ids) - 5)]
            else:
                table, parent = "core_company", v[(k * 11) % len(v)]
            rngk = random.Random(f"{self.seed}:sbom:{k}")
            supplier = companies[self.ds.rows("sn_vdr_risk_asmt_vendor_engagement")[parent]["vendor"]
                                 if table != "core_company" else parent]["name"] or "Vendor"
            product = f"{PREFIX[k % len(PREFIX)].lower()}-{SUFFIX[k % len(SUFFIX)].lower()}-platform"
            if k == 0:
                content = sn_sboms.cyclonedx(rngk, product, supplier)
                sid = add(table, parent, "software-inventory.txt", "text/plain", Blob(content), len(content))
                d("D43", "bom", "sys_attachment", sid, "CycloneDX SBOM named .txt (detected by content)", "ok", "")
            elif k == 1:
                content = sn_sboms.malformed_cyclonedx()
                sid = add(table, parent, "broken-sbom.cdx.json", "application/vnd.cyclonedx+json", Blob(content), len(content))
                d("D44", "bom", "sys_attachment", sid, "CycloneDX BOM that breaks its schema (uploaded with warnings)",
                  "ok", "schema warning(s), uploaded anyway")
            elif k % 2 == 0:
                content = sn_sboms.cyclonedx(rngk, product, supplier)
                add(table, parent, f"{product}.cdx.json", "application/vnd.cyclonedx+json", Blob(content), len(content))
            else:
                content = sn_sboms.spdx(rngk, product, supplier)
                add(table, parent, f"{product}.spdx.json", "application/spdx+json", Blob(content), len(content))

    def timestamps(self) -> None:
        self.dirty("D45", "vendor", "core_company", "*", f"hundreds of rows share sys_updated_on {BULK_TS}", "ok", "")


def build(name: str = "small", seed: int = 7) -> Dataset:
    if name not in SIZES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(SIZES)}")
    g = _Gen(name, seed)
    g.lookups()
    g.users()
    g.companies()
    g.contacts()
    g.engagements()
    g.assessments()
    g.attachments()
    g.timestamps()
    from connector.emulators import sn_issues  # issues and their dirty cases live in their own module

    sn_issues.generate(g)
    return g.ds
