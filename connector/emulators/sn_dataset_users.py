"""Dataset stage: reference tables (assessment templates, vendor types, departments) and users,
with the dirty users (duplicate emails in case and whitespace, invalid or empty emails, an
inactive user, emails another Coverbase org owns).
"""

from __future__ import annotations

from connector.emulators.fixtures import FOREIGN_ORG_EMAILS
from connector.emulators.sn_dataset_generator import Generator
from connector.emulators.sn_dataset_words import FIRST, LAST, TEMPLATES, TITLES


def lookups(g: Generator) -> None:
    for i, name in enumerate(TEMPLATES):
        sid = g.sid("tpl", i)
        g.ds.rows("sn_vdr_risk_asmt_assessment_template")[sid] = {
            **g.sys("sn_vdr_risk_asmt_assessment_template", sid), "name": name}
    for i, name in enumerate(["applications", "hardware", "services", "software"]):
        sid = g.sid("vtype", i)
        g.ds.rows("vendor_type")[sid] = {**g.sys("vendor_type", sid), "name": name.title(), "value": name}
    for i, name in enumerate(["Procurement", "IT", "Security", "Finance", "Legal"]):
        sid = g.sid("dept", i)
        g.ds.rows("cmn_department")[sid] = {**g.sys("cmn_department", sid), "name": name}


def users(g: Generator) -> list[str]:
    s, rng = g.sizes, g.rng
    rows = g.ds.rows("sys_user")
    depts = list(g.ds.rows("cmn_department"))
    ids = []
    for i in range(s.users):
        sid = g.sid("sys_user", i)
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + i // len(FIRST)) % len(LAST)]
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        email = f"{local}{i}@globex-corp.example"
        rows[sid] = {**g.sys("sys_user", sid, bulk=rng.random() < s.bulk_share),
                     "user_name": f"{local}{i}", "email": email, "first_name": first, "last_name": last,
                     "name": f"{first} {last}",
                     "active": "true" if rng.random() > 0.05 or i < s.referenced_users else "false",
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
    d = g.dirty
    d("D01", "user", "sys_user", pool[0], "two sys_user rows whose emails differ only in case and whitespace",
      "ok", "same Coverbase user as")
    d("D02", "user", "sys_user", pool[2], "email 'not-an-email'", "invalid", "not a valid email address")
    d("D03", "user", "sys_user", pool[3], "email 'jane.doe@' (no domain)", "invalid", "not a valid email address")
    d("D04", "user", "sys_user", pool[4], "referenced user with an empty email", "invalid", "has no email")
    d("D05", "user", "sys_user", pool[5], "inactive user referenced as vendor manager", "skipped", "inactive")
    d("D06", "user", "sys_user", pool[6], "email owned by a user of another Coverbase org", "rejected", "user_exists")
    g.pool = pool
    return pool
