"""The baseline: ServiceNow → Coverbase the way a typical hand-written integration does it.

Offset paging, one request at a time, no diffing, no ledger (every run sends everything again),
look-ups before each create. It is not a straw man: it caches ids within a run, skips what
Coverbase would obviously refuse (empty names, bad emails), and uses the same HTTP library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

ENG = "sn_vdr_risk_asmt_vendor_engagement"
ASMT = "sn_vdr_risk_asmt_assessment"
ALLOWED = {"pdf", "doc", "docx", "rtf", "txt", "md", "xls", "xlsx", "xlsm", "csv", "ppt", "pptx", "png", "jpg",
           "jpeg", "gif", "webp", "zip"}


@dataclass
class NaiveStats:
    coverbase_calls: int = 0
    servicenow_calls: int = 0
    created: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def naive_sync(sn_url: str, sn_auth: tuple[str, str], cb_url: str, cb_key: str, page: int = 100) -> NaiveStats:
    st = NaiveStats()
    t0 = time.monotonic()
    sn = httpx.Client(base_url=sn_url, auth=sn_auth, timeout=120)
    cb = httpx.Client(base_url=cb_url, headers={"Authorization": f"Bearer {cb_key}"}, timeout=120)

    def cbr(method: str, path: str, **kw) -> httpx.Response:
        st.coverbase_calls += 1
        return cb.request(method, path, **kw)

    def read(table: str, query: str = "") -> list[dict]:
        rows, offset = [], 0
        while True:
            st.servicenow_calls += 1
            r = sn.get(f"/api/now/table/{table}",
                       params={"sysparm_query": (query + "^" if query else "") + "ORDERBYsys_id",
                               "sysparm_limit": page, "sysparm_offset": offset,
                               "sysparm_exclude_reference_link": "true"})
            batch = r.json()["result"]
            rows += batch
            if len(batch) < page:
                return rows
            offset += page

    def count(kind: str) -> None:
        st.created[kind] = st.created.get(kind, 0) + 1

    users = {u["sys_id"]: u for u in read("sys_user")}
    user_ids: dict[str, str] = {}

    def user_id(sys_id: str) -> str | None:
        u = users.get(sys_id)
        if not u or u.get("active") != "true":
            return None
        email = u["email"].strip().lower()
        if "@" not in email or email.endswith("@"):
            return None
        if email in user_ids:
            return user_ids[email]
        r = cbr("GET", "/v1/users", params={"email": email})
        items = r.json().get("items") or []
        if items:
            user_ids[email] = items[0]["id"]
        else:
            r = cbr("POST", "/v1/users", json={"email": email, "first_name": u["first_name"],
                                               "last_name": u["last_name"]})
            if r.status_code >= 400:
                return None
            user_ids[email] = r.json()["id"]
            count("users")
        return user_ids[email]

    vendor_ids: dict[str, str] = {}
    for v in read("core_company", "vendor=true"):
        if not v["name"].strip():
            continue
        owners = [i for m in v["vendor_manager"].split(",") if m and (i := user_id(m))]
        body = {"name": v["name"].strip(), "website": v["website"] or None, "description": v["notes"] or None,
                "external_id": v["sys_id"], "relationship_owner_ids": owners}
        found = cbr("GET", "/v1/vendors", params={"external_id": v["sys_id"]}).json()["items"]
        if found:
            vid = found[0]["id"]
            cbr("PATCH", f"/v1/vendors/{vid}", json=body)
        else:
            vid = cbr("POST", "/v1/vendors", json=body).json()["id"]
            count("vendors")
        vendor_ids[v["sys_id"]] = vid
    service_ids: dict[str, str] = {}
    for e in read(ENG):
        vid = vendor_ids.get(e["vendor"])
        if not vid or not e["name"].strip():
            continue
        existing = {s["external_id"]: s["id"] for s in cbr("GET", f"/v1/vendors/{vid}").json()["services"]}
        if e["sys_id"] in existing:
            service_ids[e["sys_id"]] = existing[e["sys_id"]]
            continue
        owners = [i for i in [user_id(e["business_owner"])] if i]
        r = cbr("POST", f"/v1/vendors/{vid}/services", json={"name": e["name"], "description": e["description"],
                                                              "external_id": e["sys_id"],
                                                              "relationship_owner_ids": owners})
        service_ids[e["sys_id"]] = r.json()["id"]
        count("services")
    engagements = {e["sys_id"]: e for e in read(ENG)}
    assessments = {a["sys_id"]: a for a in read(ASMT)}
    offset = 0
    while True:
        st.servicenow_calls += 1
        batch = sn.get("/api/now/attachment", params={"sysparm_limit": page, "sysparm_offset": offset,
                                                      "sysparm_query": "ORDERBYsys_id"}).json()["result"]
        for a in batch:
            if a["table_name"] == "core_company":
                vid, sids = vendor_ids.get(a["table_sys_id"]), []
            elif a["table_name"] == ENG:
                e = engagements.get(a["table_sys_id"])
                vid = vendor_ids.get(e["vendor"]) if e else None
                sids = [service_ids[a["table_sys_id"]]] if a["table_sys_id"] in service_ids else []
            elif a["table_name"] == ASMT:
                x = assessments.get(a["table_sys_id"])
                vid, sids = (vendor_ids.get(x["vendor"]) if x else None), []
            else:
                continue
            size = int(a["size_bytes"])
            name = a["file_name"]
            ext = name.rsplit(".", 1)[-1].lower()
            if not vid or size == 0 or size > 100 * 1024 * 1024 or "/" in name or "\\" in name or ext not in ALLOWED:
                continue
            st.servicenow_calls += 1
            content = sn.get(f"/api/now/attachment/{a['sys_id']}/file").content  # whole file in memory
            data = {"vendor_id": vid, **({"service_ids": sids} if sids else {})}
            r = cbr("POST", "/v1/documents", data=data, files={"file": (name, content)})
            if r.status_code < 400:
                count("documents")
        if len(batch) < page:
            break
        offset += page
    for x in assessments.values():
        vid = vendor_ids.get(x["vendor"])
        if not vid or x["state"] in ("closed", "cancelled"):
            continue
        sids = [service_ids[x["engagement"]]] if x["engagement"] in service_ids else []
        if x["engagement"] and not sids:
            continue
        r = cbr("POST", "/v1/assessments", json={"vendor_id": vid, "control_set_ids": [], "name": x["name"],
                                                 "service_ids": sids, "assignee_id": user_id(x["assigned_to"])})
        if r.status_code < 400:
            count("assessments")
    sn.close()
    cb.close()
    st.seconds = time.monotonic() - t0
    return st
