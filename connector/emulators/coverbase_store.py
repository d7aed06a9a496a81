"""In-memory state and business rules of the Coverbase emulator (contract §2, checklist §3.1).

Written from the contract independently of the client's models, on purpose: if both sides
shared one schema, a misreading of the docs would pass every test.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

from connector.emulators import fixtures

ROLE_ALIASES = {
    "member": "org:member", "basic_member": "org:member", "org:basic_member": "org:member",
    "admin": "org:admin",
}
ROLES = {"org:admin", "org:member", "org:siloed_member", "org:guest", "org:auxiliary_member",
         "org:service_account"}
IDEMPOTENCY_TTL = 24 * 3600
COMPONENT_TYPES = {"application", "library", "framework", "container", "operating-system", "device",
                   "firmware", "file", "machine-learning-model", "data", "other"}


class ApiProblem(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(f"{status} {body}")


def coded(status: int, code: str, message: str) -> ApiProblem:
    return ApiProblem(status, {"detail": {"code": code, "message": message}})


def invalid(*items: tuple[list, str, str]) -> ApiProblem:
    return ApiProblem(422, {"detail": [{"loc": loc, "msg": msg, "type": typ} for loc, msg, typ in items]})


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def email_error(value: Any) -> str | None:
    """FastAPI's EmailStr verdict (it uses email-validator), as its 422 message."""
    if not isinstance(value, str):
        return "Input should be a valid string"
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"value is not a valid email address: {exc}"
    return None


def valid_email(value: Any) -> bool:
    return email_error(value) is None


@dataclass
class Org:
    id: str
    name: str
    bom_entitled: bool = True
    workflows: dict[str, bool] = field(default_factory=lambda: dict(fixtures.WORKFLOWS))
    control_sets: dict[str, str] = field(default_factory=lambda: dict(fixtures.CONTROL_SETS))
    statuses: dict[str, str] = field(default_factory=lambda: dict(fixtures.STATUSES))
    tags: dict[str, str] = field(default_factory=lambda: dict(fixtures.TAGS))


class CoverbaseStore:
    """All state, guarded by one lock (handlers run on the event loop, tests read from threads)."""

    def __init__(self, api_keys: dict[str, str] | None = None, *, keep_file_bytes: int = 2 * 1024 * 1024,
                 idempotency_scope: str = "path") -> None:
        self.lock = threading.RLock()
        self.keep_file_bytes = keep_file_bytes
        # BOM parse lifecycle (async in Coverbase): this many reads see "parsing", the next one the verdict.
        self.bom_parse_reads = 1
        self.idempotency_scope = idempotency_scope  # "path" or "route" (contract §4 q2) [INF]
        self.clock_offset = 0.0
        self.orgs: dict[str, Org] = {}
        self.api_keys: dict[str, str] = {}
        self.users: dict[str, dict] = {}
        self.users_by_email: dict[str, str] = {}
        self.vendors: dict[str, dict] = {}
        self.services: dict[str, dict] = {}
        self.documents: dict[str, dict] = {}
        self.objects: dict[str, dict] = {}  # s3_url -> {size, sha256, content, content_type}
        self.upload_tokens: dict[str, dict] = {}
        self.boms: dict[str, dict] = {}
        self.assessments: dict[str, dict] = {}
        self.workflow_runs: dict[str, dict] = {}
        self.findings: dict[str, dict] = {}  # rules in coverbase_findings.py
        self.assessment_findings_carry_vendor = True  # [INF] an assessment's findings also show its vendor_id
        self.idempotency: dict[tuple[str, str, str], tuple[float, int, Any]] = {}
        self._seq = 0
        self._id_seq = 0
        main = self.add_org("cborg_" + "0" * 31 + "1", "Emulated Org")
        foreign = self.add_org("cborg_" + "0" * 31 + "2", "Another Org")
        for key, org in (api_keys or {fixtures.DEMO_API_KEY: main.id}).items():
            self.api_keys[key] = org
        for email in fixtures.FOREIGN_ORG_EMAILS:
            self._insert_user(foreign.id, email, None, None, "org:member", "active")

    # --- basics -----------------------------------------------------------------------------

    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_id(self, prefix: str) -> str:
        """``prefix_`` + 32 hex, from this store's own sequence: the same requests in the same order
        get the same ids on every run, so seeded faults (which depend on request bodies, ids
        included) fall on the same requests every time."""
        with self.lock:
            self._id_seq += 1
            n = self._id_seq
        return f"{prefix}_{hashlib.sha256(f'{prefix}:{n}'.encode()).hexdigest()[:32]}"

    def add_org(self, org_id: str, name: str) -> Org:
        org = Org(org_id, name)
        self.orgs[org_id] = org
        return org

    def org_for_key(self, token: str | None) -> Org | None:
        org_id = self.api_keys.get(token or "")
        return self.orgs.get(org_id) if org_id else None

    @property
    def main_org(self) -> Org:
        return next(iter(self.orgs.values()))

    # --- idempotency ------------------------------------------------------------------------

    def idem_lookup(self, org: str, scope: str, key: str) -> tuple[int, Any] | None:
        hit = self.idempotency.get((org, scope, key))
        if hit is None:
            return None
        expires, status, body = hit
        if self.now() >= expires:
            del self.idempotency[(org, scope, key)]
            return None
        return status, json.loads(body)

    def idem_store(self, org: str, scope: str, key: str, status: int, body: Any) -> None:
        # Keyed by (org, endpoint, key), 24 h from first use, replayed verbatim (contract §1.8).
        self.idempotency.setdefault((org, scope, key), (self.now() + IDEMPOTENCY_TTL, status, json.dumps(body)))

    # --- users ------------------------------------------------------------------------------

    def _insert_user(self, org: str, email: str, first: str | None, last: str | None, role: str,
                     status: str) -> dict:
        now = self.now()
        user = {"id": self.new_id("cbuser"), "org": org, "email": email, "first_name": first, "last_name": last,
                "role": role, "status": status, "is_archived": False, "created_at": now, "updated_at": now,
                "_seq": self._next_seq()}
        self.users[user["id"]] = user
        self.users_by_email[email.lower()] = user["id"]
        return user

    @staticmethod
    def user_view(u: dict) -> dict:
        return {k: u[k] for k in ("id", "email", "first_name", "last_name", "role", "status", "is_archived",
                                  "created_at", "updated_at")}

    def create_or_get_user(self, org: str, body: dict) -> tuple[int, dict]:
        email = body.get("email")
        if email is None:
            raise invalid((["body", "email"], "Field required", "missing"))
        problem = email_error(email)
        if problem:
            raise invalid((["body", "email"], problem, "value_error"))
        role = body.get("role") or "org:member"
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise invalid((["body", "role"], f"Input should be one of {sorted(ROLES)}", "enum"))
        existing_id = self.users_by_email.get(email.lower())
        if existing_id:
            existing = self.users[existing_id]
            if existing["org"] != org:
                raise coded(409, "user_exists", f"A user with email {email} already exists.")
            return 200, self.user_view(existing)
        user = self._insert_user(org, email, body.get("first_name"), body.get("last_name"), role, "invited")
        return 201, self.user_view(user)

    def user_in_org(self, org: str, user_id: str) -> dict:
        u = self.users.get(user_id)
        if not u or u["org"] != org:
            raise coded(404, "user_not_found", "User not found.")
        return u

    def list_users(self, org: str, email: str | None, include_archived: bool) -> list[dict]:
        if email is not None:
            uid = self.users_by_email.get(email.strip().lower())
            u = self.users.get(uid) if uid else None
            return [self.user_view(u)] if u and u["org"] == org else []
        rows = [u for u in self.users.values() if u["org"] == org and (include_archived or not u["is_archived"])]
        rows.sort(key=lambda u: -u["_seq"])
        return [self.user_view(u) for u in rows]

    def patch_user(self, org: str, user_id: str, body: dict) -> dict:
        u = self.user_in_org(org, user_id)
        if body.get("role") is not None:
            role = ROLE_ALIASES.get(body["role"], body["role"])
            if role not in ROLES:
                raise invalid((["body", "role"], f"Input should be one of {sorted(ROLES)}", "enum"))
            u["role"] = role
        if body.get("is_archived") is not None:
            u["is_archived"] = bool(body["is_archived"])
            u["status"] = "inactive" if u["is_archived"] else "active"
        u["updated_at"] = self.now()
        return self.user_view(u)

    # --- vendors and services ---------------------------------------------------------------

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
            "service_ids": [], "created_at": now, "updated_at": now, "_seq": self._next_seq(),
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

    # --- documents --------------------------------------------------------------------------

    @staticmethod
    def document_view(d: dict) -> dict:
        return {k: d[k] for k in ("id", "vendor_id", "name", "extension", "size", "document_type", "status",
                                  "service_ids", "assessment_ids", "created_at", "updated_at")}

    def _check_links(self, org: str, vendor_id: str, service_ids: list[str], assessment_ids: list[str]) -> None:
        for sid in service_ids:
            s = self.services.get(sid)
            if not s or s["org"] != org:
                raise coded(404, "service_not_found", f"Service not found: {sid}")
        for aid in assessment_ids:
            a = self.assessments.get(aid)
            if not a or a["org"] != org:
                raise coded(404, "assessment_not_found", f"Assessment not found: {aid}")

    def add_document(self, org: str, *, vendor_id: str, name: str, extension: str, size: int, sha256: str,
                     content: bytes | None, document_type: str | None, service_ids: list[str],
                     assessment_ids: list[str]) -> dict:
        now = self.now()
        d = {"id": self.new_id("cbvdoc"), "org": org, "vendor_id": vendor_id, "name": name, "extension": extension,
             "size": size, "document_type": document_type, "status": "created", "service_ids": service_ids,
             "assessment_ids": assessment_ids, "created_at": now, "updated_at": now, "is_archived": False,
             "archived_at": None, "sha256": sha256, "_content": content, "_seq": self._next_seq()}
        self.documents[d["id"]] = d
        return self.document_view(d)

    def document_in_org(self, org: str, doc_id: str) -> dict:
        d = self.documents.get(doc_id)
        if not d or d["org"] != org or d.get("_bom"):
            raise coded(404, "document_not_found", "Document not found.")
        return d

    def list_documents(self, org: str, vendor_id: str | None, service_id: str | None,
                       assessment_id: str | None) -> list[dict]:
        if assessment_id is not None:
            a = self.assessments.get(assessment_id)
            if not a or a["org"] != org:
                raise coded(404, "assessment_not_found", "Assessment not found.")
        rows = [d for d in self.documents.values() if d["org"] == org and not d["is_archived"] and not d.get("_bom")]
        if vendor_id:
            rows = [d for d in rows if d["vendor_id"] == vendor_id]
        if service_id:
            rows = [d for d in rows if service_id in d["service_ids"]]
        if assessment_id:
            rows = [d for d in rows if assessment_id in d["assessment_ids"]]
        rows.sort(key=lambda d: -d["_seq"])
        return [self.document_view(d) for d in rows]

    def patch_document(self, org: str, doc_id: str, body: dict) -> dict:
        d = self.document_in_org(org, doc_id)
        if body.get("document_type") is not None and body["document_type"] not in fixtures.DOCUMENT_TYPES:
            raise coded(422, "invalid_document_type", f"Unknown document_type: {body['document_type']}")
        self._check_links(org, d["vendor_id"], body.get("service_ids") or [], body.get("assessment_ids") or [])
        for key in ("name", "document_type"):
            if body.get(key) is not None:
                d[key] = body[key]
        for key in ("service_ids", "assessment_ids"):
            if body.get(key) is not None:
                d[key] = list(body[key])
        d["updated_at"] = self.now()
        return self.document_view(d)

    def archive_document(self, org: str, doc_id: str) -> dict:
        d = self.document_in_org(org, doc_id)
        if not d["is_archived"]:
            d["is_archived"] = True
            d["archived_at"] = self.now()
        return {"id": d["id"], "is_archived": True, "archived_at": d["archived_at"]}

    # --- bills of materials -----------------------------------------------------------------

    def new_upload_token(self, org: str, filename: str, content_type: str) -> tuple[str, str]:
        token = uuid.uuid4().hex
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename or "upload")[:120]
        s3_url = f"s3://coverbase-emulator-uploads/{org}/{token}/{safe_name}"
        self.upload_tokens[token] = {"org": org, "s3_url": s3_url, "content_type": content_type,
                                     "expires": self.now() + 900}
        return token, s3_url

    def bom_view(self, b: dict, *, with_components: bool, count_read: bool = True) -> dict:
        if count_read:
            self._parse_bom(b)
        doc = self.documents[b["vendor_document_id"]]
        out = {k: b[k] for k in ("id", "vendor_id", "vendor_document_id", "format", "bom_type", "parse_status",
                                 "spec_version", "serial_number", "component_count", "name", "parse_error",
                                 "parsed_at", "is_archived", "service_ids", "created_at", "updated_at")}
        out["document"] = {"id": doc["id"], "name": doc["name"], "s3_url": b["s3_url"], "size": doc["size"],
                           "extension": doc["extension"], "created_at": doc["created_at"]}
        out["components"] = [dict(c) for c in b["_components"]] if with_components else None
        return out

    def create_bom(self, org: Org, body: dict) -> dict:
        missing = [k for k in ("vendor_id", "s3_url", "size", "name", "extension") if k not in body]
        if missing:
            raise invalid(*[(["body", k], "Field required", "missing") for k in missing])
        if not isinstance(body["size"], int):
            raise invalid((["body", "size"], "Input should be a valid integer", "int_type"))
        v = self.vendors.get(body["vendor_id"])
        if not v or v["org"] != org.id:
            raise coded(404, "vendor_not_found", "Vendor not found.")
        service_ids = body.get("service_ids") or []
        self._check_links(org.id, v["id"], service_ids, [])
        doc = self.add_document(org.id, vendor_id=v["id"], name=body["name"], extension=body["extension"],
                                size=body["size"], sha256=self.objects.get(body["s3_url"], {}).get("sha256", ""),
                                content=None, document_type=None, service_ids=service_ids, assessment_ids=[])
        self.documents[doc["id"]]["_bom"] = True  # [INF] BOM documents stay out of GET /v1/documents
        now = self.now()
        b = {"id": self.new_id("cbbom"), "org": org.id, "vendor_id": v["id"], "vendor_document_id": doc["id"],
             "s3_url": body["s3_url"], "format": "unknown", "bom_type": "other", "parse_status": "pending",
             "spec_version": None, "serial_number": None, "component_count": 0, "name": None, "parse_error": None,
             "parsed_at": None, "is_archived": False, "service_ids": service_ids, "created_at": now,
             "updated_at": now, "_components": [], "_seq": self._next_seq(), "_reads": 0}
        self.boms[b["id"]] = b
        out = self.bom_view(b, with_components=False, count_read=False)
        out["components"] = None
        return out

    def _parse_bom(self, b: dict) -> None:
        """Parsing is asynchronous in Coverbase and deterministic here: the POST answers
        ``pending``; the first ``bom_parse_reads`` reads of the BOM see ``parsing``; the next one
        sees the verdict (``parsed`` | ``failed`` | ``unsupported``)."""
        if b["parse_status"] not in ("pending", "parsing"):
            return
        b["_reads"] += 1
        if b["_reads"] <= self.bom_parse_reads:
            if b["parse_status"] != "parsing":
                b["parse_status"], b["updated_at"] = "parsing", self.now()
            return
        from connector.emulators.sbom_parse import parse_bom_stream

        obj = self.objects.get(b["s3_url"])
        result = parse_bom_stream(_object_stream(obj))
        b.update({k: v for k, v in result.items() if not k.startswith("_")})
        b["_components"] = [
            {"id": self.new_id("cbbomc"), "bill_of_materials_id": b["id"], "vendor_document_id": b["vendor_document_id"],
             "created_at": self.now(), **c}
            for c in result["_components"]
        ]
        b["parsed_at"] = self.now() if b["parse_status"] == "parsed" else None
        b["updated_at"] = self.now()

    def boms_for(self, org: str, vendor_id: str | None, service_id: str | None, include_archived: bool) -> list[dict]:
        rows = [b for b in self.boms.values() if b["org"] == org and (include_archived or not b["is_archived"])]
        if vendor_id:
            rows = [b for b in rows if b["vendor_id"] == vendor_id]
        if service_id:
            rows = [b for b in rows if service_id in b["service_ids"]]
        rows.sort(key=lambda b: -b["_seq"])
        return rows

    def bom_in_org(self, org: str, bom_id: str) -> dict:
        b = self.boms.get(bom_id)
        if not b or b["org"] != org:
            raise coded(404, "bom_not_found", "Bill of materials not found.")
        return b

    # --- assessments and workflows ----------------------------------------------------------

    @staticmethod
    def assessment_view(a: dict, *, with_run: bool) -> dict:
        out = {k: a[k] for k in ("id", "vendor_id", "name", "status", "control_set_ids", "service_ids",
                                 "assignee_id", "score_percent", "findings_count", "initiated_at", "created_at",
                                 "updated_at")}
        if with_run:
            out["workflow_run_id"] = a["workflow_run_id"]
        return out

    def _start_run(self, org: Org, name: str, run_input: Any) -> dict:
        if name not in org.workflows:
            raise coded(404, "workflow_not_found", f"Workflow '{name}' not found.")
        if not org.workflows[name]:
            raise coded(409, "workflow_disabled", f"Workflow '{name}' is disabled.")
        run = {"workflow_run_id": self.new_id("cbwr"), "org": org.id, "workflow_name": name,
               "workflow_definition_id": "cbwd_" + hashlib.md5(name.encode()).hexdigest(), "status": "started",
               "started_at": self.now(), "completed_at": None, "input": run_input, "steps": [],
               "_seq": self._next_seq()}
        self.workflow_runs[run["workflow_run_id"]] = run
        return run

    def create_assessment(self, org: Org, body: dict) -> dict:
        missing = [k for k in ("vendor_id", "control_set_ids") if k not in body]
        if missing:
            raise invalid(*[(["body", k], "Field required", "missing") for k in missing])
        if not isinstance(body["control_set_ids"], list):
            raise invalid((["body", "control_set_ids"], "Input should be a valid list", "list_type"))

        def fail(msg: str) -> ApiProblem:  # the only endpoint with the free-form "error" shape
            return ApiProblem(400, {"detail": {"error": msg}})

        v = self.vendors.get(body["vendor_id"])
        if not v or v["org"] != org.id:
            raise fail(f"Invalid vendor_id: {body['vendor_id']}")
        for cs in body["control_set_ids"]:
            if cs not in org.control_sets:
                raise fail(f"Invalid control_set_ids: {cs}")
        service_ids = body.get("service_ids") or []
        for sid in service_ids:
            if sid not in v["service_ids"]:
                raise fail(f"Invalid service_ids: {sid} is not a service of this vendor")
        assignee = body.get("assignee_id")
        if assignee is not None:
            u = self.users.get(assignee)
            if not u or u["org"] != org.id:
                raise fail(f"Invalid assignee_id: {assignee}")
        docs = body.get("supporting_document_ids") or []
        for did in docs:
            d = self.documents.get(did)
            if not d or d["org"] != org.id or d["is_archived"]:
                raise fail(f"Invalid supporting_document_ids: {did}")
        run = self._start_run(org, body["trigger_workflow"], {"source": "assessment"}) if body.get("trigger_workflow") else None
        now = self.now()
        a = {"id": self.new_id("cbqsrw"), "org": org.id, "vendor_id": v["id"], "name": body.get("name") or f"{v['name']} assessment",
             "status": "created", "control_set_ids": list(body["control_set_ids"]), "service_ids": service_ids,
             "assignee_id": assignee, "score_percent": None, "findings_count": 0, "initiated_at": now,
             "created_at": now, "updated_at": now, "workflow_run_id": run["workflow_run_id"] if run else None,
             "is_archived": False, "archived_at": None, "supporting_document_ids": docs, "_seq": self._next_seq()}
        self.assessments[a["id"]] = a
        for did in docs:
            if a["id"] not in self.documents[did]["assessment_ids"]:
                self.documents[did]["assessment_ids"].append(a["id"])
        return self.assessment_view(a, with_run=True)

    def assessment_in_org(self, org: str, aid: str) -> dict:
        a = self.assessments.get(aid)
        if not a or a["org"] != org:
            raise coded(404, "assessment_not_found", "Assessment not found.")
        return a

    def archive_assessment(self, org: str, aid: str) -> dict:
        a = self.assessment_in_org(org, aid)
        if not a["is_archived"]:
            a.update(is_archived=True, archived_at=self.now(), status="canceled", updated_at=self.now())
            for f in self.findings.values():  # "the assessment, its evals and its findings get is_archived"
                if f["assessment_id"] == aid and not f["is_archived"]:
                    f.update(is_archived=True, updated_at=self.now())
        return {"id": a["id"], "status": a["status"], "is_archived": True, "archived_at": a["archived_at"]}

    def run_workflow(self, org: Org, name: str, body: dict) -> dict:
        run = self._start_run(org, name, body.get("input") if isinstance(body.get("input"), dict) else {})
        return {k: run[k] for k in ("workflow_run_id", "workflow_name", "status", "started_at", "input")}

    # --- inspection -------------------------------------------------------------------------

    def snapshot(self) -> dict:
        """Everything stored, per org, for tests and benchmarks (outside /v1)."""
        from connector.emulators.coverbase_findings import snapshot_of

        with self.lock:
            out: dict[str, Any] = {}
            for org in self.orgs.values():
                oid = org.id
                docs = [dict(self.document_view(d), is_archived=d["is_archived"], sha256=d["sha256"])
                        for d in self.documents.values() if d["org"] == oid and not d.get("_bom")]
                out[oid] = {
                    "name": org.name,
                    "bom_entitled": org.bom_entitled,
                    "users": [self.user_view(u) for u in self.users.values() if u["org"] == oid],
                    "vendors": [self.vendor_view(v) for v in self.vendors.values() if v["org"] == oid],
                    "documents": docs,
                    "boms": [dict(self.bom_view(b, with_components=False, count_read=False), s3_url=b["s3_url"],
                                  sha256=self.objects.get(b["s3_url"], {}).get("sha256"))
                             for b in self.boms.values() if b["org"] == oid],
                    "assessments": [dict(self.assessment_view(a, with_run=True), is_archived=a["is_archived"],
                                         supporting_document_ids=a["supporting_document_ids"])
                                    for a in self.assessments.values() if a["org"] == oid],
                    "workflow_runs": [{k: v for k, v in r.items() if not k.startswith("_") and k != "org"}
                                      for r in self.workflow_runs.values() if r["org"] == oid],
                    "findings": snapshot_of(self, oid),
                }
            return out


def _object_stream(obj: dict | None):
    """An uploaded object's bytes: kept in memory when small, spilled to a temp file otherwise."""
    if obj is None:
        return None
    if obj.get("content") is not None:
        import io

        return io.BytesIO(obj["content"])
    return obj.get("file")
