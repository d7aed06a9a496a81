"""A tiny CycloneDX/SPDX JSON component parser: what Coverbase's background parse yields.

Deliberately not the validation library the connector uses, so the two can disagree.
"""

from __future__ import annotations

import json
from typing import Any

from connector.emulators.coverbase_store import COMPONENT_TYPES


def _licenses_cdx(comp: dict) -> list[str]:
    out = []
    for entry in comp.get("licenses") or []:
        lic = entry.get("license") if isinstance(entry, dict) else None
        if isinstance(lic, dict):
            out.append(lic.get("id") or lic.get("name") or "")
        elif isinstance(entry, dict) and entry.get("expression"):
            out.append(entry["expression"])
    return [x for x in out if x]


def _walk_cdx(components: list, out: list[dict]) -> None:
    for c in components or []:
        if not isinstance(c, dict) or not c.get("name"):
            raise ValueError("CycloneDX component without a name")
        ctype = c.get("type") if c.get("type") in COMPONENT_TYPES else "other"
        out.append({
            "name": c["name"], "version": c.get("version"), "purl": c.get("purl"), "cpe": c.get("cpe"),
            "group": c.get("group"), "supplier": (c.get("supplier") or {}).get("name"),
            "author": c.get("author"), "description": c.get("description"), "bom_ref": c.get("bom-ref"),
            "component_type": ctype, "licenses": _licenses_cdx(c),
            "hashes": {h.get("alg"): h.get("content") for h in c.get("hashes") or [] if isinstance(h, dict)},
            "external_references": c.get("externalReferences") or [], "properties": {},
        })
        _walk_cdx(c.get("components") or [], out)


def _spdx_components(doc: dict) -> list[dict]:
    out = []
    for p in doc.get("packages") or []:
        if not isinstance(p, dict) or not p.get("name"):
            raise ValueError("SPDX package without a name")
        purl = next((r.get("referenceLocator") for r in p.get("externalRefs") or []
                     if isinstance(r, dict) and r.get("referenceType") == "purl"), None)
        lic = p.get("licenseConcluded") or p.get("licenseDeclared")
        out.append({
            "name": p["name"], "version": p.get("versionInfo"), "purl": purl, "cpe": None, "group": None,
            "supplier": p.get("supplier"), "author": p.get("originator"), "description": p.get("summary"),
            "bom_ref": p.get("SPDXID"), "component_type": "library",
            "licenses": [lic] if lic and lic not in ("NOASSERTION", "NONE") else [],
            "hashes": {c.get("algorithm"): c.get("checksumValue") for c in p.get("checksums") or []},
            "external_references": [], "properties": {},
        })
    return out


def parse_bom_bytes(content: bytes | None) -> dict[str, Any]:
    base = {"format": "unknown", "bom_type": "other", "spec_version": None, "serial_number": None,
            "component_count": 0, "name": None, "parse_error": None, "_components": []}
    if content is None:
        return dict(base, parse_status="failed", parse_error="file not found at s3_url")
    try:
        doc = json.loads(content)
    except ValueError as exc:
        return dict(base, parse_status="failed", parse_error=f"invalid JSON: {exc}")
    if not isinstance(doc, dict):
        return dict(base, parse_status="unsupported")
    try:
        if doc.get("bomFormat") == "CycloneDX":
            comps: list[dict] = []
            _walk_cdx(doc.get("components") or [], comps)
            meta = (doc.get("metadata") or {}).get("component") or {}
            return dict(base, format="cyclonedx", bom_type="sbom", parse_status="parsed",
                        spec_version=str(doc.get("specVersion")), serial_number=doc.get("serialNumber"),
                        component_count=len(comps), name=meta.get("name"), _components=comps)
        if isinstance(doc.get("spdxVersion"), str):
            comps = _spdx_components(doc)
            return dict(base, format="spdx", bom_type="sbom", parse_status="parsed",
                        spec_version=doc["spdxVersion"], serial_number=doc.get("documentNamespace"),
                        component_count=len(comps), name=doc.get("name"), _components=comps)
    except ValueError as exc:
        return dict(base, parse_status="failed", parse_error=str(exc))
    return dict(base, parse_status="unsupported")
