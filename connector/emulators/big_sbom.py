"""A generated CycloneDX 1.5 JSON of an exact size, produced as a stream (never held whole).

For the memory benchmark (``bench/bom_rss.py``) and tests: the ServiceNow emulator serves it as an
attachment (``POST /_emulator/attachments`` with ``stream_kind`` ``cyclonedx`` or
``cyclonedx-marker-last``). Every component has the same length, so the component count follows
from the size; ``marker-last`` puts ``bomFormat`` / ``specVersion`` after the components, so a
reader must get through the whole document to know what it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

KINDS = ("cyclonedx", "cyclonedx-marker-last")


def _parts(seed: int, marker_last: bool) -> tuple[bytes, bytes]:
    serial = f"urn:uuid:{hashlib.md5(str(seed).encode()).hexdigest()}"  # noqa: S324 - an id, not security
    serial = f"{serial[:17]}-{serial[17:21]}-{serial[21:25]}-{serial[25:29]}-{serial[29:]}"
    meta = ('"serialNumber":"%s","version":1,"metadata":{"timestamp":"2026-01-01T00:00:00Z","component":'
            '{"type":"container","name":"generated-image","version":"1.0.0"}},') % serial
    marker = '"bomFormat":"CycloneDX","specVersion":"1.5"'
    if marker_last:
        return ("{" + meta + '"components":[').encode(), ("]," + marker + "}").encode()
    return ("{" + marker + "," + meta + '"components":[').encode(), b"]}"


def _component(i: int) -> bytes:
    name = f"component-{i:09d}"
    ref = f"pkg:npm/{name}@1.{i % 100:02d}.{i % 7}"
    return json.dumps({"type": "library", "bom-ref": ref, "name": name, "version": f"1.{i % 100:02d}.{i % 7}",
                       "purl": ref, "licenses": [{"license": {"id": "MIT"}}],
                       "hashes": [{"alg": "SHA-256", "content": hashlib.sha256(ref.encode()).hexdigest()}]},
                      separators=(",", ":")).encode()


def component_count(size: int, seed: int = 1, marker_last: bool = False) -> int:
    head, tail = _parts(seed, marker_last)
    return max(0, (size - len(head) - len(tail) + 1) // (len(_component(0)) + 1))


def chunks(kind: str, size: int, seed: int = 1, chunk: int = 64 * 1024) -> Iterator[bytes]:
    marker_last = kind == "cyclonedx-marker-last"
    head, tail = _parts(seed, marker_last)
    n = component_count(size, seed, marker_last)
    pad = size - len(head) - len(tail) - (n * len(_component(0)) + max(0, n - 1))
    buf = bytearray(head)
    for i in range(n):
        if i:
            buf += b","
        buf += _component(i)
        if len(buf) >= chunk:
            yield bytes(buf[:chunk])
            del buf[:chunk]
    buf += b" " * pad + tail  # whitespace between tokens: still the same JSON
    for i in range(0, len(buf), chunk):
        yield bytes(buf[i:i + chunk])
