"""File names repaired, not refused: a document's name in Coverbase is a label, not a path.

The rules (issue 12), applied in this order:

1. take the last path component (after ``/`` or ``\\``);
2. strip control characters (and the bidirectional overrides that make ``evil\u202efdp.exe``
   read as ``evilexe.pdf``);
3. collapse runs of whitespace to one space;
4. strip leading dots and spaces, and trailing spaces;
5. truncate to 255 UTF-8 bytes, keeping the extension;
6. if nothing is left: ``attachment-<sys_id>.<ext>``.

A name without an extension gets one from its declared content type when that type names one
Coverbase accepts (``SOC2 report`` sent as ``application/pdf`` becomes ``SOC2 report.pdf``).
Extensions are compared after trimming and lower-casing. The original name is kept by the
caller (ledger ``original_name``, the run's ``repairs`` metadata).
"""

from __future__ import annotations

import re

MAX_NAME_BYTES = 255

_SEPARATORS = re.compile(r"[/\\]")
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, all 65 of them (a regex, not a loop per character)
# Bidi embeddings, overrides and isolates: format characters, but they disguise an extension.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))

# Declared content type -> the extension Coverbase's allowlist knows it by.
EXTENSION_OF_TYPE = {
    "application/pdf": "pdf", "application/msword": "doc", "application/rtf": "rtf", "text/rtf": "rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsm",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "text/plain": "txt", "text/markdown": "md", "text/csv": "csv", "image/png": "png", "image/jpeg": "jpg",
    "image/gif": "gif", "image/webp": "webp", "application/zip": "zip", "application/x-zip-compressed": "zip",
}


def _split(last: str) -> tuple[str, str]:
    """(stem, extension) of a cleaned last path component; '' when there is no extension."""
    if "." in last:
        stem, ext = last.rsplit(".", 1)
        if ext and not ext[0].isspace() and " " not in ext:  # not 'draft.' nor 'v1. final'
            return stem, ext
    return last, ""


def extension(file_name: str) -> str:
    """The lower-cased, trimmed extension of a file name ('' when it has none)."""
    return _split(_clean(_SEPARATORS.split(file_name)[-1]).rstrip())[1].lower()


def _clean(text: str) -> str:
    # Tabs and newlines are whitespace (a space between words), the other control characters go.
    text = _WHITESPACE.sub(" ", text.translate(_BIDI))
    return _WHITESPACE.sub(" ", _CONTROL.sub("", text))


def _truncate(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", "ignore")


def repair_file_name(name: str | None, key: str, content_type: str | None = None) -> tuple[str, list[str]]:
    """(the name to send, what was repaired). An empty list means the name is sent as it is."""
    original = name or ""
    last = _clean(_SEPARATORS.split(original)[-1]).rstrip()
    stem, ext = _split(last)
    stem = stem.lstrip(". ").rstrip()
    added = ""
    if not ext:
        ct = (content_type or "").split(";")[0].strip().lower()
        if ct in EXTENSION_OF_TYPE:
            ext = EXTENSION_OF_TYPE[ct]
            added = f" (.{ext} from its content type {ct})"
    suffix = f".{ext}" if ext else ""
    if len(suffix.encode("utf-8")) > MAX_NAME_BYTES // 2:  # not an extension: a long name with a dot in it
        stem, suffix = _clean(last).lstrip(". "), ""
    stem = _truncate(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8"))).rstrip()
    fixed = f"{stem}{suffix}" if stem else f"attachment-{key}{suffix}"
    if fixed == original:
        return fixed, []
    return fixed, [f"file name {original!r} sent as {fixed!r}{added}"]
