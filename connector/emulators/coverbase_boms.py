"""Bills of materials in the Coverbase emulator (contract §2.4).

A BOM is created from an object uploaded to the emulated S3 (``GET /v1/file/uploadable_url``, then
``PUT``); its file becomes a document of the vendor that no document listing shows. Parsing is
asynchronous in Coverbase and deterministic here (``_parse_bom``); what a parse yields is
``sbom_parse.py``'s business.
"""

from __future__ import annotations

import io
import re
import uuid

from connector.emulators.coverbase_documents import DocumentRecords
from connector.emulators.coverbase_errors import coded, invalid
from connector.emulators.coverbase_state import Org
from connector.emulators.sbom_parse import parse_bom_stream


class BomRecords(DocumentRecords):
    """The BOM part of the store (the caller holds ``lock``); its files are documents."""

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
        self.check_links(org.id, v["id"], service_ids, [])
        doc = self.add_document(org.id, vendor_id=v["id"], name=body["name"], extension=body["extension"],
                                size=body["size"], sha256=self.objects.get(body["s3_url"], {}).get("sha256", ""),
                                content=None, document_type=None, service_ids=service_ids, assessment_ids=[])
        self.documents[doc["id"]]["_bom"] = True  # [INF] BOM documents stay out of GET /v1/documents
        now = self.now()
        b = {"id": self.new_id("cbbom"), "org": org.id, "vendor_id": v["id"], "vendor_document_id": doc["id"],
             "s3_url": body["s3_url"], "format": "unknown", "bom_type": "other", "parse_status": "pending",
             "spec_version": None, "serial_number": None, "component_count": 0, "name": None, "parse_error": None,
             "parsed_at": None, "is_archived": False, "service_ids": service_ids, "created_at": now,
             "updated_at": now, "_components": [], "_seq": self.next_seq(), "_reads": 0}
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
        obj = self.objects.get(b["s3_url"])
        result = parse_bom_stream(_object_stream(obj))
        b.update({k: v for k, v in result.items() if not k.startswith("_")})
        b["_components"] = [
            {"id": self.new_id("cbbomc"), "bill_of_materials_id": b["id"],
             "vendor_document_id": b["vendor_document_id"],
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


def _object_stream(obj: dict | None):
    """An uploaded object's bytes: kept in memory when small, spilled to a temp file otherwise."""
    if obj is None:
        return None
    if obj.get("content") is not None:
        return io.BytesIO(obj["content"])
    return obj.get("file")
