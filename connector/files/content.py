"""File-level helpers shared by every source: which attachments to probe, spooling.

BOMs are recognised by content, never by file name (``connector/files/bom_detect.py``), and read
before upload (``connector/files/bom_validate.py``); file names are repaired, not refused
(``connector/files/names.py``).
"""

from __future__ import annotations

import tempfile

from connector.files.names import extension, repair_file_name

__all__ = ["BINARY_TYPES", "HEAD_BYTES", "extension", "needs_probe", "private_spool", "repair_file_name"]

HEAD_BYTES = 64 * 1024

# Declared types whose bytes cannot be CycloneDX or SPDX text (JSON, XML, tag-value).
BINARY_TYPES = ("application/pdf", "application/msword", "application/vnd.openxmlformats-", "application/vnd.ms-",
                "application/vnd.oasis.opendocument.", "application/zip", "application/x-zip", "application/gzip",
                "application/x-7z", "application/x-rar", "application/x-msdownload", "application/rtf", "image/",
                "audio/", "video/")
# ... and the extensions that agree with such a type. A ``sbom.json`` declared as a PDF is probed.
BINARY_EXTENSIONS = frozenset({
    "", "pdf", "doc", "docx", "dot", "dotx", "xls", "xlsx", "xlsm", "ppt", "pptx", "odt", "ods", "odp", "rtf", "msg",
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic", "svg", "ico", "zip", "gz", "tgz", "7z", "rar",
    "exe", "dll", "msi", "mp3", "mp4", "mov", "wav", "avi", "mkv"})


def may_hold_json(content_type: str | None) -> bool:
    """Whether an attachment of this declared type could be BOM text (unknown types could)."""
    ct = (content_type or "").split(";")[0].strip().lower()
    return not any(ct.startswith(b) for b in BINARY_TYPES)


def needs_probe(content_type: str | None, file_name: str) -> bool:
    """Read the content to classify it, unless both the declared type and the name say binary."""
    return may_hold_json(content_type) or extension(file_name or "") not in BINARY_EXTENSIONS


def private_spool(max_in_memory: int) -> tempfile.SpooledTemporaryFile:
    """Bytes in transit: in memory up to ``max_in_memory``, then an anonymous 0600 file that
    the OS removes when it is closed or the process dies (TemporaryFile is unlinked at once)."""
    return tempfile.SpooledTemporaryFile(max_size=max_in_memory, prefix="cb-connector-")
