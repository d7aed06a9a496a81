"""Vendor documents in the Coverbase emulator (contract §2.3): stored, listed, patched, archived.

The upload itself (a streamed multipart ``POST``) is the route's work
(``coverbase_routes_documents.py``); this part keeps the records. A BOM's file is a document too
(``coverbase_boms.py``), kept out of every document listing and read.
"""

from __future__ import annotations

from connector.emulators import fixtures
from connector.emulators.coverbase_errors import coded
from connector.emulators.coverbase_state import StoreState


class DocumentRecords(StoreState):
    """The documents part of the store (the caller holds ``lock``)."""

    @staticmethod
    def document_view(d: dict) -> dict:
        return {k: d[k] for k in ("id", "vendor_id", "name", "extension", "size", "document_type", "status",
                                  "service_ids", "assessment_ids", "created_at", "updated_at")}

    def check_links(self, org: str, vendor_id: str, service_ids: list[str], assessment_ids: list[str]) -> None:
        """Every linked service and assessment exists in the org (``404`` otherwise)."""
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
             "archived_at": None, "sha256": sha256, "_content": content, "_seq": self.next_seq()}
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
        self.check_links(org, d["vendor_id"], body.get("service_ids") or [], body.get("assessment_ids") or [])
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
