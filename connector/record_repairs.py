"""Record-level repairs made by a source mapping (recorded in ``Canonical.repairs``).

What a sensible repair saves instead of an ``invalid`` outcome; the entities carry the list to
the ledger (``connector/sync/entities/repairs.py``). docs/repairs.md lists every repair and every
``invalid`` case that remains, with the reason it cannot be repaired.
"""

from __future__ import annotations

import re

from connector.canonical import email_problem, normalize_email

_ANGLE = re.compile(r"^[^<>]*<\s*([^<>\s]+@[^<>\s]+)\s*>\s*$")  # Dana Lee <dana@example.com>
_MAILTO = re.compile(r"^mailto:\s*", re.IGNORECASE)


def repair_email(raw: str | None) -> tuple[str | None, str | None]:
    """(address, what was repaired) for an address written as ``Name <addr>``, ``<addr>``,
    ``mailto:addr`` or with trailing punctuation, when the address inside is valid; else
    (raw, None). A bad address is never guessed at (``not-an-email`` stays invalid)."""
    if raw is None or not email_problem(normalize_email(raw)):
        return raw, None
    text = raw.strip()
    m = _ANGLE.match(text)
    candidate = m.group(1) if m else _MAILTO.sub("", text).strip().rstrip(".,;:").strip("'\"")
    if candidate and candidate != text and not email_problem(normalize_email(candidate)):
        return candidate, f"email {raw.strip()!r} read as {candidate!r}"
    return raw, None
