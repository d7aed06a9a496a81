"""Dataset stage: companies (vendors and a few that are not) and vendor contacts, with the dirty
vendors (empty and whitespace names, unicode, right-to-left and CJK names, long notes, a website
without a scheme, vendor managers that do not exist, repeat, are invalid or belong to another
org) and contacts (none at all, a primary contact with an invalid email).
"""

from __future__ import annotations

from connector.emulators.sn_dataset_generator import Generator
from connector.emulators.sn_dataset_words import FIRST, FORMS, LAST, PLACES, PREFIX, SERVICES, SUFFIX


def companies(g: Generator) -> tuple[list[str], list[str]]:
    s, rng = g.sizes, g.rng
    rows = g.ds.rows("core_company")
    vtypes = list(g.ds.rows("vendor_type"))
    vendors, non_vendors, used = [], [], set()
    for i in range(s.vendors + s.non_vendors):
        sid = g.sid("core_company", i)
        while True:
            name = f"{rng.choice(PREFIX)} {rng.choice(SUFFIX)} {rng.choice(FORMS)}"
            if name not in used:
                used.add(name)
                break
        city, state, country = rng.choice(PLACES)
        is_vendor = i < s.vendors
        slug = name.split()[0].lower()
        rows[sid] = {**g.sys("core_company", sid, bulk=rng.random() < s.bulk_share * 0.8),
                     "name": name, "vendor": "true" if is_vendor else "false", "manufacturer": "false",
                     "customer": "false" if is_vendor else "true", "website": f"https://www.{slug}{i}.example",
                     "notes": rng.choice(["", f"Key supplier for {rng.choice(SERVICES).lower()}.",
                                          "Renewal due next quarter. Contact via portal."]),
                     "street": f"{rng.randint(1, 999)} Main St", "city": city, "state": state, "zip": "",
                     "country": country, "phone": "", "rank_tier": rng.choice(["strategic", "tactical", "valued"]),
                     "vendor_manager": (",".join(g.next_user() for _ in range(rng.choice([1, 1, 2])))
                                        if is_vendor else ""),
                     "contact": g.next_user() if is_vendor else "",
                     "vendor_type": ",".join(rng.sample(vtypes, rng.randint(0, 2))), "parent": "", "stock_symbol": ""}
        (vendors if is_vendor else non_vendors).append(sid)
    v = vendors
    d = g.dirty
    rows[v[0]]["name"] = ""
    d("D08", "vendor", "core_company", v[0], "vendor with an empty name", "invalid", "name is empty")
    rows[v[1]]["name"] = "   "
    d("D09", "vendor", "core_company", v[1], "vendor whose name is only whitespace", "invalid", "name is empty")
    unicode_names = ["Société Générale de Sécurité S.A.", "Müller & Söhne Prüfdienste GmbH",
                     "株式会社サンプル情報システム",
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
    rows[v[11]]["vendor_manager"] = f"{'0' * 24}deadbeef,{g.next_user()}"
    d("D16", "vendor", "core_company", v[11], "vendor manager list names a sys_user that does not exist", "ok",
      "no such sys_user")
    rows[v[12]]["vendor_manager"] = f"{g.pool[0]},{g.pool[1]}"
    d("D17", "vendor", "core_company", v[12], "vendor managers are the same person twice (case/whitespace emails)",
      "ok", "")
    rows[v[13]]["vendor_manager"] = f"{g.pool[2]},{g.pool[5]}"
    d("D18", "vendor", "core_company", v[13], "vendor managers are an invalid-email user and an inactive user",
      "ok", "synced without")
    rows[v[14]]["contact"] = g.pool[6]
    rows[v[15]]["vendor_manager"] = f"{g.pool[3]},{g.pool[4]},{g.pool[7]}"
    d("D19", "vendor", "core_company", v[15], "vendor managers include another org's user", "ok", "synced without")
    g.vendors, g.non_vendors = vendors, non_vendors
    return vendors, non_vendors


def contacts(g: Generator) -> None:
    rng = g.rng
    rows = g.ds.rows("vm_vdr_contact")
    companies = g.ds.rows("core_company")
    n = 0
    for k, vid in enumerate(g.vendors):
        if k == 9:  # D20: a vendor without any contact
            continue
        count = rng.choice([1, 1, 2, 3])
        has_primary = rng.random() < 0.85 or k == 8
        for j in range(count):
            sid = g.sid("vm_vdr_contact", n)
            n += 1
            first, last = rng.choice(FIRST), rng.choice(LAST)
            slug = (companies[vid]["website"].split("www.")[-1].split("/")[0]) or "vendor.example"
            email = f"{first}.{last}".lower().replace("'", "") + f"@{slug}"
            rows[sid] = {**g.sys("vm_vdr_contact", sid, cls="vm_vdr_contact"), "company": vid,
                         "first_name": first, "last_name": last, "name": f"{first} {last}", "email": email,
                         "title": rng.choice(["Account Manager", "Security Lead", "DPO", "CTO"]),
                         "phone": f"+44 20 7946 {rng.randint(0, 9999):04d}",
                         "primary_contact": "true" if (j == 0 and has_primary) else "false", "active": "true",
                         "user_name": email, "locked_out": "false", "department": ""}
            if k == 8 and j == 0:
                rows[sid]["email"] = "security at vendor dot com"
    g.dirty("D20", "vendor", "core_company", g.vendors[9], "vendor without any contact", "ok", "")
    g.dirty("D21", "vendor", "core_company", g.vendors[8], "primary contact with an invalid email", "ok",
            "primary contact")
