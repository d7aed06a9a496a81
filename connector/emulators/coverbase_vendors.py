"""Vendors and their services in the Coverbase emulator (contract §2.2).

Referenced users, status ids and tag ids must exist in the org (``400`` with the endpoint's own
code otherwise); ``null`` in a ``PATCH`` means "omit" and arrays replace; a vendor's listing view
is shorter than its full view, which embeds its services.
"""

from __future__ import annotations

from connector.emulators.coverbase_errors import coded, invalid
from connector.emulators.coverbase_state import Org, StoreState
from connector.emulators.coverbase_users import valid_email


class VendorRecords(StoreState):
    """The vendors and services part of the store (the caller holds ``lock``)."""

    def _check_user_ids(self, org: str, body: dict, keys: tuple[str, ...], code: str) -> None:
        for key in keys:
            ids = body.get(key)
            if ids is None:
                continue
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise invalid((["body", key], "Input should be a valid list", "list_type"))
            for uid in ids:
                u = self.users.get(uid)
                if not u or u["org"] != org:
                    raise coded(400, code, f"Unknown user id in {key}: {uid}")

    @staticmethod
    def _check_contact(body: dict) -> dict | None:
        pc = body.get("primary_contact")
        if pc is None:
            return None
        if not isinstance(pc, dict) or "email" not in pc:
            raise invalid((["body", "primary_contact", "email"], "Field required", "missing"))
        if not valid_email(pc["email"]):
            raise invalid((["body", "primary_contact", "email"], "value is not a valid email address", "value_error"))
        return {"email": pc["email"], "name": pc.get("name"), "title": pc.get("title"),
                "phone_number": pc.get("phone_number")}

    def _check_ids(self, org: Org, body: dict, code: str) -> None:
        status_id = body.get("status_id")
        if status_id is not None and status_id not in org.statuses:
            raise coded(400, code, f"Unknown status_id: {status_id}")
        for tag in body.get("tag_ids") or []:
            if tag not in org.tags:
                raise coded(400, code, f"Unknown tag id: {tag}")

    def service_view(self, s: dict) -> dict:
        org = self.orgs[s["org"]]
        return {"id": s["id"], "vendor_id": s["vendor_id"], "name": s["name"], "description": s["description"],
                "external_id": s["external_id"], "tags": [org.tags[t] for t in s["tag_ids"]],
                "relationship_owner_ids": list(s["relationship_owner_ids"]),
                "watcher_ids": list(s["watcher_ids"]), "primary_contact": s["primary_contact"],
                "created_at": s["created_at"]}

    def vendor_view(self, v: dict, *, full: bool = True) -> dict:
        org = self.orgs[v["org"]]
        out = {
            "id": v["id"], "external_id": v["external_id"], "name": v["name"], "website": v["website"],
            "description": v["description"], "hq_location": v["hq_location"],
            "status": org.statuses.get(v["status_id"]) if v["status_id"] else None,
            "status_id": v["status_id"], "tags": [org.tags[t] for t in v["tag_ids"]],
            "use_case": v["use_case"], "tier": None, "primary_contact": v["primary_contact"],
            "created_at": v["created_at"], "updated_at": v["updated_at"],
        }
        if full:
            out.update({
                "risk_analyst_ids": list(v["risk_analyst_ids"]),
                "relationship_owner_ids": list(v["relationship_owner_ids"]),
                "watcher_ids": list(v["watcher_ids"]),
                "inherent_risk_level_id": v["inherent_risk_level_id"],
                "residual_risk_level_id": v["residual_risk_level_id"],
                "engagement_type": v["engagement_type"],
                "services": [self.service_view(self.services[s]) for s in v["service_ids"]],
                "custom_fields": [],
            })
        return out

    def vendor_in_org(self, org: str, vendor_id: str) -> dict:
        v = self.vendors.get(vendor_id)
        if not v or v["org"] != org:
            raise coded(404, "vendor_not_found", "Vendor not found.")
        return v

    def create_vendor(self, org: Org, body: dict) -> dict:
        if "name" not in body or body["name"] is None:
            raise invalid((["body", "name"], "Field required", "missing"))
        if not isinstance(body["name"], str):
            raise invalid((["body", "name"], "Input should be a valid string", "string_type"))
        if not body["name"].strip():
            raise coded(400, "invalid_vendor", "Vendor name must not be empty.")
        contact = self._check_contact(body)
        self._check_user_ids(org.id, body, ("risk_analyst_ids", "relationship_owner_ids", "watcher_ids"),
                             "invalid_vendor")
        now = self.now()
        v = {
            "id": self.new_id("cbvndr"), "org": org.id, "external_id": body.get("external_id"), "name": body["name"],
            "website": body.get("website"), "description": body.get("description"),
            "hq_location": body.get("hq_location"), "use_case": body.get("use_case"), "status_id": None,
            "tag_ids": [], "risk_analyst_ids": body.get("risk_analyst_ids") or [],
            "relationship_owner_ids": body.get("relationship_owner_ids") or [],
            "watcher_ids": body.get("watcher_ids") or [], "inherent_risk_level_id": None,
            "residual_risk_level_id": None, "engagement_type": None, "primary_contact": contact,
            "service_ids": [], "created_at": now, "updated_at": now, "_seq": self.next_seq(),
        }
        self.vendors[v["id"]] = v
        return self.vendor_view(v)

    def list_vendors(self, org: str, name: str | None, external_id: str | None) -> list[dict]:
        rows = [v for v in self.vendors.values() if v["org"] == org]
        if external_id is not None:
            rows = [v for v in rows if v["external_id"] == external_id]
        if name is not None:
            needle = name.lower()
            rows = [v for v in rows if needle in v["name"].lower()
                    or any(needle in self.services[s]["name"].lower() for s in v["service_ids"])]
        rows.sort(key=lambda v: (-v["created_at"], -v["_seq"]))  # newest first
        return [self.vendor_view(v, full=False) for v in rows]

    _VENDOR_PATCH_STR = ("name", "website", "description", "hq_location", "use_case", "engagement_type",
                         "inherent_risk_level_id", "residual_risk_level_id")

    def patch_vendor(self, org: Org, vendor_id: str, body: dict) -> dict:
        v = self.vendor_in_org(org.id, vendor_id)
        self._check_ids(org, body, "invalid_update")
        self._check_user_ids(org.id, body, ("risk_analyst_ids", "relationship_owner_ids", "watcher_ids"),
                             "invalid_update")
        contact = self._check_contact(body)
        # null means "omit"; arrays replace; external_id and tier are not updatable.
        for key in self._VENDOR_PATCH_STR:
            if body.get(key) is not None:
                v[key] = body[key]
        if body.get("status_id") is not None:
            v["status_id"] = body["status_id"]
        for key in ("tag_ids", "risk_analyst_ids", "relationship_owner_ids", "watcher_ids"):
            if body.get(key) is not None:
                v[key] = list(body[key])
        if contact is not None:
            v["primary_contact"] = contact
        v["updated_at"] = self.now()
        return self.vendor_view(v)

    def create_service(self, org: Org, vendor_id: str, body: dict) -> dict:
        v = self.vendor_in_org(org.id, vendor_id)
        if not isinstance(body.get("name"), str):
            raise invalid((["body", "name"], "Field required", "missing"))
        if not body["name"].strip():
            raise coded(400, "invalid_service", "Service name must not be empty.")
        self._check_ids(org, body, "invalid_service")
        self._check_user_ids(org.id, body, ("relationship_owner_ids", "watcher_ids"), "invalid_service")
        contact = self._check_contact(body)
        s = {"id": self.new_id("cbsvc"), "org": org.id, "vendor_id": v["id"], "name": body["name"],
             "description": body.get("description"), "external_id": body.get("external_id"),
             "tag_ids": body.get("tag_ids") or [], "relationship_owner_ids": body.get("relationship_owner_ids") or [],
             "watcher_ids": body.get("watcher_ids") or [], "primary_contact": contact, "created_at": self.now()}
        self.services[s["id"]] = s
        v["service_ids"].append(s["id"])
        return self.service_view(s)

    def patch_service(self, org: Org, vendor_id: str, service_id: str, body: dict) -> dict:
        v = self.vendor_in_org(org.id, vendor_id)
        s = self.services.get(service_id)
        if not s or s["vendor_id"] != v["id"]:
            raise coded(404, "service_not_found", "Service not found.")
        self._check_ids(org, body, "invalid_service")
        self._check_user_ids(org.id, body, ("relationship_owner_ids", "watcher_ids"), "invalid_service")
        contact = self._check_contact(body)
        for key in ("name", "description"):
            if body.get(key) is not None:
                s[key] = body[key]
        for key in ("tag_ids", "relationship_owner_ids", "watcher_ids"):
            if body.get(key) is not None:
                s[key] = list(body[key])
        if contact is not None:
            s["primary_contact"] = contact
        return self.service_view(s)
