"""What Coverbase's background BOM parse yields, written independently of the connector.

Deliberately not the connector's detection or validation code, so the two can disagree. Like a
real parser it is tolerant: it reads what it needs (format, version, serial number, subject,
components) and does not judge the rest (fractional-second timestamps, non-RFC 4122 serial
numbers, licenses by name, undeclared ``LicenseRef-`` ids are all fine). Per the contract
(§2.4) it parses CycloneDX JSON and SPDX JSON; anything else is stored but ``unsupported``
(CycloneDX XML, SPDX tag-value, other JSON). A JSON file that does not parse, or a component or
package without a name (Coverbase's component ``name`` is always present), is ``failed`` with
``parse_error``.

It streams (ijson) so a 100 MiB SBOM is parsed without holding the document, and keeps at most
``MAX_KEPT`` component rows (the count is exact; the listing of a huge BOM is cut) [INF].
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

MAX_KEPT = 5000
# A component's component_type is one of these (contract §2.4); any other CycloneDX type becomes "other".
COMPONENT_TYPES = {"application", "library", "framework", "container", "operating-system", "device",
                   "firmware", "file", "machine-learning-model", "data", "other"}
_TOP = {"bomFormat", "specVersion", "spdxVersion", "serialNumber", "name", "documentNamespace",
        "metadata.component.name"}


def _licenses_cdx(comp: dict) -> list[str]:
    out = []
    for entry in comp.get("licenses") or []:
        lic = entry.get("license") if isinstance(entry, dict) else None
        if isinstance(lic, dict):
            out.append(lic.get("id") or lic.get("name") or "")
        elif isinstance(entry, dict) and entry.get("expression"):
            out.append(entry["expression"])
    return [str(x) for x in out if x]


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _walk_cdx(components: Any) -> Iterator[dict]:
    for c in components if isinstance(components, list) else []:
        if not isinstance(c, dict) or not c.get("name"):
            raise ValueError("CycloneDX component without a name")
        supplier = c.get("supplier")
        yield {
            "name": str(c["name"]), "version": _text(c.get("version")), "purl": _text(c.get("purl")),
            "cpe": _text(c.get("cpe")), "group": _text(c.get("group")),
            "supplier": _text(supplier.get("name")) if isinstance(supplier, dict) else _text(supplier),
            "author": _text(c.get("author")), "description": _text(c.get("description")),
            "bom_ref": _text(c.get("bom-ref")),
            "component_type": c.get("type") if c.get("type") in COMPONENT_TYPES else "other",
            "licenses": _licenses_cdx(c),
            "hashes": {h.get("alg"): h.get("content") for h in c.get("hashes") or [] if isinstance(h, dict)},
            "external_references": [r for r in c.get("externalReferences") or [] if isinstance(r, dict)],
            "properties": {},
        }
        yield from _walk_cdx(c.get("components"))


def _spdx_package(p: Any) -> dict:
    if not isinstance(p, dict) or not p.get("name"):
        raise ValueError("SPDX package without a name")
    purl = next((r.get("referenceLocator") for r in p.get("externalRefs") or []
                 if isinstance(r, dict) and r.get("referenceType") == "purl"), None)
    lic = p.get("licenseConcluded") or p.get("licenseDeclared")
    return {
        "name": str(p["name"]), "version": _text(p.get("versionInfo")), "purl": _text(purl), "cpe": None,
        "group": None, "supplier": _text(p.get("supplier")), "author": _text(p.get("originator")),
        "description": _text(p.get("summary")), "bom_ref": _text(p.get("SPDXID")), "component_type": "library",
        "licenses": [str(lic)] if lic and lic not in ("NOASSERTION", "NONE") else [],
        "hashes": {c.get("algorithm"): c.get("checksumValue") for c in p.get("checksums") or [] if isinstance(c, dict)},
        "external_references": [], "properties": {},
    }


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).splitlines()[0].split()) if str(exc) else type(exc).__name__


def parse_bom_stream(fh: BinaryIO | None) -> dict[str, Any]:
    base = {"format": "unknown", "bom_type": "other", "spec_version": None, "serial_number": None,
            "component_count": 0, "name": None, "parse_error": None, "_components": []}
    if fh is None:
        return dict(base, parse_status="failed", parse_error="file not found at s3_url")
    fh.seek(0)
    lead = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    fh.seek(0)
    if not lead.startswith(b"{"):
        return dict(base, parse_status="unsupported")  # XML, tag-value, anything not a JSON object
    top: dict[str, Any] = {}
    try:
        for prefix, event, value in ijson.parse(fh, use_float=True):
            if prefix in _TOP and event in ("string", "number") and prefix not in top:
                top[prefix] = value
    except (ijson.JSONError, ValueError) as exc:
        return dict(base, parse_status="failed", parse_error=f"invalid JSON: {_first_line(exc)}")
    fmt = "cyclonedx" if str(top.get("bomFormat", "")).lower() == "cyclonedx" else \
        "spdx" if isinstance(top.get("spdxVersion"), str) else None
    if fmt is None:
        return dict(base, parse_status="unsupported")
    kept: list[dict] = []
    count = 0
    fh.seek(0)
    try:
        if fmt == "cyclonedx":
            rows = (row for comp in ijson.items(fh, "components.item", use_float=True) for row in _walk_cdx([comp]))
        else:
            rows = (_spdx_package(p) for p in ijson.items(fh, "packages.item", use_float=True))
        for row in rows:
            count += 1
            if len(kept) < MAX_KEPT:
                kept.append(row)
    except (ijson.JSONError, ValueError) as exc:
        return dict(base, format=fmt, parse_status="failed", parse_error=_first_line(exc))
    if fmt == "cyclonedx":
        return dict(base, format=fmt, bom_type="sbom", parse_status="parsed",
                    spec_version=_text(top.get("specVersion")),
                    serial_number=_text(top.get("serialNumber")), component_count=count,
                    name=_text(top.get("metadata.component.name")), _components=kept)
    return dict(base, format=fmt, bom_type="sbom", parse_status="parsed", spec_version=top["spdxVersion"],
                serial_number=_text(top.get("documentNamespace")), component_count=count,
                name=_text(top.get("name")), _components=kept)
