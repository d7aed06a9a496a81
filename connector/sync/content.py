"""File-level checks shared by every source: safe names, extensions, BOM detection, spooling.

BOMs are recognised by content (CycloneDX or SPDX JSON), never by file name, and validated
with the maintained libraries (cyclonedx-python-lib, spdx-tools) before any upload.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HEAD_BYTES = 64 * 1024


def extension(file_name: str) -> str:
    base = file_name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def unsafe_file_name(name: str) -> str | None:
    """Why a file name must not be sent, or None. Path separators or '..' would let a name
    escape wherever a downstream tool writes it; control characters break headers."""
    if not name or not name.strip():
        return "empty file name"
    if "/" in name or "\\" in name:
        return f"unsafe file name {name!r}: contains a path separator"
    if name.strip() in (".", "..") or name.startswith(".."):
        return f"unsafe file name {name!r}: relative path"
    if _CONTROL.search(name):
        return f"unsafe file name {name!r}: control characters"
    if len(name.encode("utf-8")) > 255:
        return "unsafe file name: longer than 255 bytes"
    return None


# Declared types whose bytes cannot be CycloneDX or SPDX JSON text: not worth a probe request.
BINARY_TYPES = ("application/pdf", "application/msword", "application/vnd.openxmlformats-", "application/vnd.ms-",
                "application/vnd.oasis.opendocument.", "application/zip", "application/x-zip", "application/gzip",
                "application/x-7z", "application/x-rar", "application/x-msdownload", "application/rtf", "image/",
                "audio/", "video/")


def may_hold_json(content_type: str | None) -> bool:
    """Whether an attachment of this declared type is probed for a BOM (unknown types are)."""
    ct = (content_type or "").split(";")[0].strip().lower()
    return not any(ct.startswith(b) for b in BINARY_TYPES)


def sniff_kind(head: bytes) -> str:
    """'bom' when the first bytes are CycloneDX or SPDX JSON, else 'document'."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return "document"
    if b'"bomFormat"' in head and b"CycloneDX" in head:
        return "bom"
    if b'"spdxVersion"' in head:
        return "bom"
    return "document"


class InvalidBom(ValueError):
    pass


@dataclass(frozen=True)
class BomInfo:
    format: str  # cyclonedx | spdx
    spec_version: str
    components: int


def _cyclonedx(doc: dict, raw: str) -> BomInfo:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    spec = str(doc.get("specVersion", ""))
    try:
        version = SchemaVersion.from_version(spec)
    except (ValueError, KeyError):
        raise InvalidBom(f"CycloneDX specVersion {spec!r} is not one the validator knows") from None
    error = JsonStrictValidator(version).validate_str(raw)
    if error is not None:
        first = str(error).strip().splitlines()[0][:300]
        raise InvalidBom(f"CycloneDX {spec} validation failed: {first}")

    def count(items: list) -> int:
        return sum(1 + count(c.get("components") or []) for c in items if isinstance(c, dict))

    return BomInfo("cyclonedx", spec, count(doc.get("components") or []))


def _spdx(doc: dict) -> BomInfo:
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        parsed = JsonLikeDictParser().parse(doc)
    except SPDXParsingError as exc:
        msgs = exc.get_messages() if hasattr(exc, "get_messages") else [str(exc)]
        raise InvalidBom(f"SPDX document does not parse: {'; '.join(map(str, msgs))[:300]}") from None
    problems = validate_full_spdx_document(parsed)
    if problems:
        raise InvalidBom(f"SPDX {doc.get('spdxVersion')} validation failed: {problems[0].validation_message[:300]}")
    return BomInfo("spdx", str(doc.get("spdxVersion")), len(doc.get("packages") or []))


def validate_bom(fh: BinaryIO) -> BomInfo:
    """Parse and validate a spooled BOM file; raises InvalidBom with the first problem."""
    fh.seek(0)
    raw_bytes = fh.read()
    try:
        raw = raw_bytes.decode("utf-8-sig")
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidBom(f"not valid UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidBom("top level is not a JSON object")
    if doc.get("bomFormat") == "CycloneDX":
        return _cyclonedx(doc, raw)
    if "spdxVersion" in doc:
        return _spdx(doc)
    raise InvalidBom("neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON")


def private_spool(max_in_memory: int) -> tempfile.SpooledTemporaryFile:
    """Bytes in transit: in memory up to ``max_in_memory``, then an anonymous 0600 file that
    the OS removes when it is closed or the process dies (TemporaryFile is unlinked at once)."""
    return tempfile.SpooledTemporaryFile(max_size=max_in_memory, prefix="cb-connector-")
