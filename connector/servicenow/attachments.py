"""Attachment API: streamed download with size and sha256 checks (servicenow.md §2, Pitfall 13)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowError, ServiceNowIntegrityError, ServiceNowTransportError

CHUNK = 256 * 1024


@dataclass(frozen=True)
class Downloaded:
    size: int
    sha256: str
    head: bytes  # the first bytes, for content sniffing (BOM detection)


def download(client: ServiceNowClient, sys_id: str, dest: BinaryIO, *, expected_sha256: str | None = None,
             expected_size: int | None = None, head_bytes: int = 64 * 1024, attempts: int = 3) -> Downloaded:
    """Stream ``/api/now/attachment/{sys_id}/file`` into ``dest`` (never whole in memory).

    A connection cut mid-body restarts the download (``dest`` is truncated first), up to
    ``attempts`` times. A size or hash mismatch raises ServiceNowIntegrityError: the bytes are
    not what ServiceNow says the attachment holds, and must not be uploaded.
    """
    path = f"/api/now/attachment/{sys_id}/file"
    last_error: ServiceNowError | None = None
    for _ in range(attempts):
        dest.seek(0)
        dest.truncate()
        digest = hashlib.sha256()
        size = 0
        head = bytearray()
        try:
            with client.stream(path) as resp:
                for chunk in resp.iter_bytes(CHUNK):
                    dest.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if len(head) < head_bytes:
                        head += chunk[: head_bytes - len(head)]
        except ServiceNowTransportError as exc:
            last_error = exc
            continue
        except Exception as exc:  # httpx stream errors raised while iterating the body
            if type(exc).__module__.startswith("httpx"):
                last_error = ServiceNowTransportError(f"download interrupted: {type(exc).__name__}", sent=True,
                                                      method="GET", path=path)
                continue
            raise
        dest.flush()
        got = digest.hexdigest()
        if expected_size is not None and size != expected_size:
            # A cut or substituted body (quota cancel, proxy error page): try again; transient.
            last_error = ServiceNowTransportError(f"incomplete download: {size} bytes received, size_bytes says "
                                                  f"{expected_size}", sent=True, method="GET", path=path)
            continue
        if expected_sha256 and got.lower() != expected_sha256.lower():
            # Complete body, wrong bytes: what ServiceNow stores is not what it says. Never upload it.
            raise ServiceNowIntegrityError(f"content does not match ServiceNow's hash (got sha256 {got[:12]}…, "
                                           f"expected {expected_sha256[:12]}…)", method="GET", path=path)
        return Downloaded(size, got, bytes(head))
    assert last_error is not None
    raise last_error
