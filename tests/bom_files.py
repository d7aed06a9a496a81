"""Generated SBOMs as real generators write them, the shared corpus, and attaching files to the
ServiceNow emulator. Written from the formats' public examples, not from the connector's code."""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CONNECTOR_CORPUS", REPO.parent / "shared" / "corpus"))
SBOM_DIR = CORPUS / "sbom"


def corpus_or_skip() -> tuple[Path, dict]:
    """The shared SBOM corpus and its expected.json, or a clear skip when this clone lacks it."""
    expected = SBOM_DIR / "expected.json"
    if not expected.is_file():
        pytest.skip(f"the shared SBOM corpus is not at {SBOM_DIR} (set CONNECTOR_CORPUS to the corpus folder)")
    return SBOM_DIR, json.loads(expected.read_text())


def _packages(rng: random.Random, n: int, pad: int = 0) -> list[dict]:
    out = []
    for i in range(n):
        name = f"pkg-{i}-{rng.randrange(10**6)}"
        out.append({"SPDXID": f"SPDXRef-Package-{i}", "name": name, "versionInfo": f"1.{i}.{rng.randrange(9)}",
                    "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "licenseConcluded": "MIT",
                    "licenseDeclared": "MIT", "copyrightText": "NOASSERTION",
                    "description": "x" * pad,
                    "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                      "referenceLocator": f"pkg:npm/{name}@1.{i}"}]})
    return out


def syft_spdx(seed: int = 1, packages: int = 3) -> bytes:
    """SPDX 2.3 JSON the way syft writes it: fractional-second timestamps (spdx-tools cannot
    parse them)."""
    rng = random.Random(seed)
    doc = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
           "name": "alpine-3.16", "documentNamespace": f"https://anchore.com/syft/image/alpine-3.16-{uuid.UUID(int=rng.getrandbits(128))}",
           "creationInfo": {"licenseListVersion": "3.18",
                            "creators": ["Organization: Anchore, Inc", "Tool: syft-0.59.0"],
                            "created": "2022-10-15T14:03:51.503859Z"},
           "packages": _packages(rng, packages)}
    return json.dumps(doc, indent=1).encode()


def dashless_cyclonedx(seed: int = 1, components: int = 3) -> bytes:
    """CycloneDX 1.5 whose serialNumber is urn:uuid: + 32 hex digits without dashes (the strict
    JSON schema's pattern refuses it)."""
    rng = random.Random(seed)
    comps = [{"type": "library", "name": f"lib{i}", "version": "1.0.0", "purl": f"pkg:pypi/lib{i}@1.0.0",
              "bom-ref": f"pkg:pypi/lib{i}@1.0.0"} for i in range(components)]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5",
           "serialNumber": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128)).hex}",
           "version": 1, "metadata": {"timestamp": "2024-03-01T10:11:12Z",
                                      "component": {"type": "application", "name": "acme-portal", "version": "2.0"}},
           "components": comps}
    return json.dumps(doc).encode()


def sorted_keys_spdx(seed: int = 1, min_bytes: int = 96 * 1024) -> bytes:
    """An SPDX JSON re-serialized with sorted keys: spdxVersion sits after all the packages."""
    rng = random.Random(seed)
    n = max(4, min_bytes // 500)
    doc = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "big-app",
           "documentNamespace": f"https://example.com/spdx/big-app-{seed}",
           "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: example-1.0"]},
           "packages": _packages(rng, n, pad=200)}
    raw = json.dumps(doc, sort_keys=True).encode()
    assert raw.index(b'"spdxVersion"') > 64 * 1024, "the generator must put spdxVersion past the first 64 KiB"
    return raw


def cyclonedx_xml(seed: int = 1, components: int = 2) -> bytes:
    rng = random.Random(seed)
    comps = "".join(f'<component type="library"><name>lib{i}</name><version>1.{rng.randrange(9)}</version>'
                    f'<purl>pkg:maven/org.example/lib{i}@1.0</purl></component>' for i in range(components))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bom xmlns="http://cyclonedx.org/schema/bom/1.4" '
            f'serialNumber="urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}" version="1">'
            f"<components>{comps}</components></bom>\n").encode()


def spdx_tag_value(seed: int = 1, packages: int = 2) -> bytes:
    rng = random.Random(seed)
    lines = ["SPDXVersion: SPDX-2.2", "DataLicense: CC0-1.0", "SPDXID: SPDXRef-DOCUMENT", "DocumentName: hello",
             f"DocumentNamespace: https://example.com/hello-{rng.randrange(10**9)}", "Creator: Tool: example-1.0",
             "Created: 2024-01-01T00:00:00Z", ""]
    for i in range(packages):
        lines += [f"PackageName: pkg{i}", f"SPDXID: SPDXRef-Package-{i}", f"PackageVersion: 1.{i}",
                  "PackageDownloadLocation: NOASSERTION", "FilesAnalyzed: false", "PackageLicenseConcluded: MIT",
                  "PackageLicenseDeclared: MIT", "PackageCopyrightText: <text>Copyright example</text>",
                  f"Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-Package-{i}", ""]
    return "\n".join(lines).encode()


def attach(h, table: str, parent: str, file_name: str, content: bytes, content_type: str) -> str:
    """Add an attachment to the running ServiceNow emulator; returns its sys_id."""
    return h.sn.emu.add_attachment(table, parent, file_name, content, content_type)["sys_id"]


def vendors_in_sync(h, n: int) -> list[str]:
    """sys_ids of n vendors that sync cleanly (named, no dirty case attached)."""
    from tests.sync_oracle import expected

    dirty = {c.sys_id for c in h.sn.emu.ds.dirty}
    names = expected(h.sn.emu.ds).vendors
    return [k for k in sorted(names) if k not in dirty][:n]


def ledger(h, entity: str, key: str) -> dict | None:
    rows = list(h.state.db.query("SELECT * FROM ledger WHERE entity = ? AND source_key = ?", [entity, key]))
    return rows[0] if rows else None


def vendor_id(h, vendor_key: str) -> str:
    return ledger(h, "vendor", vendor_key)["coverbase_id"]
