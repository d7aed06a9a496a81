"""The extraction-time content probe of one ServiceNow attachment: document, BOM or corrupt.

Detection happens here, at extraction, rather than when the file is pushed: which entity owns an
attachment (documents or BOMs) must be known when the push is planned, so that a dry run shows
the same split a real run makes, and so a BOM never goes through the document checks. The probe
streams the file through ``BomSniffer`` and stops as soon as the answer is known (usually within
the first chunk); only a JSON object whose format key sits late is read to its end, in bounded
memory. A file read whole is also checked against ServiceNow's sha256, so a corrupt file is known
before any upload, in a dry run too. The verdict is kept per attachment version (staging
``kind_version``): an unchanged attachment is never probed again.
"""

from __future__ import annotations

import hashlib

from connector.files.bom_detect import BomSniffer
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowError

CHUNK = 64 * 1024
ATTEMPTS = 3


class ProbeFailed(Exception):
    """No trustworthy answer (transport trouble, a cut body): classified on a later run."""


def probe_attachment(client: ServiceNowClient, sys_id: str, size: int, expected_sha256: str | None) -> tuple[str, str]:
    """(kind, reason): ``bom`` with what it is, ``document`` with why it is not a BOM, or
    ``corrupt`` with the hash mismatch."""
    problem = "no answer"
    enough = min(size, CHUNK)  # an early "not a BOM" needs at least this much of the real body
    for _ in range(ATTEMPTS):
        sniffer, digest, got = BomSniffer(), hashlib.sha256(), 0
        try:
            with client.stream(f"/api/now/attachment/{sys_id}/file") as resp:
                for chunk in resp.iter_bytes(CHUNK):
                    got += len(chunk)
                    if got > size:
                        break
                    digest.update(chunk)
                    if not sniffer.done:
                        sniffer.feed(chunk)
                    if sniffer.done and (sniffer.format is not None or (sniffer.rejected_early and got >= enough)):
                        break
        except ServiceNowError as exc:
            if exc.fatal:
                raise
            problem = f"content probe failed: {exc}"
            continue
        except Exception as exc:  # a body cut mid-stream
            if not type(exc).__module__.startswith("httpx"):
                raise
            problem = f"content probe interrupted: {type(exc).__name__}"
            continue
        if got > size:
            problem = f"content probe got more than the {size} bytes ServiceNow declares"
            continue
        # A cut or substituted body (a proxy's error page, "Transaction cancelled") must not decide
        # what the file is: a BOM found is trusted (the upload reads it whole again); "not a BOM"
        # needs the whole body, or, when the first bytes decided it, at least its first 64 KiB.
        trusted = (sniffer.done and sniffer.format is not None) or got == size or \
            (sniffer.rejected_early and got >= enough)
        if not trusted:
            problem = f"content probe got {got} bytes where {size} were expected"
            continue
        facts = sniffer.close()
        if got == size and expected_sha256:
            # The probe read the whole file: check it now, so a dry run knows too.
            sha = digest.hexdigest()
            if sha != expected_sha256.lower():
                return "corrupt", (f"content does not match ServiceNow's hash (sha256 {sha[:12]}…, expected "
                                   f"{expected_sha256[:12]}…)")
        return ("bom" if facts.is_bom else "document"), facts.describe()
    raise ProbeFailed(problem)
