"""Realistic SBOM files for the dataset: CycloneDX 1.5 JSON and SPDX 2.3 JSON.

Components come from real ecosystems with correct purls and SPDX license ids, so the
connector's validation library and the Coverbase emulator's parser see what vendors send.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid

# (ecosystem, group or namespace, name, version, license)
PACKAGES = [
    ("pypi", None, "requests", "2.32.3", "Apache-2.0"), ("pypi", None, "urllib3", "2.2.2", "MIT"),
    ("pypi", None, "cryptography", "43.0.1", "Apache-2.0"), ("pypi", None, "django", "5.1.2", "BSD-3-Clause"),
    ("pypi", None, "flask", "3.0.3", "BSD-3-Clause"), ("pypi", None, "numpy", "2.1.2", "BSD-3-Clause"),
    ("pypi", None, "pyyaml", "6.0.2", "MIT"), ("pypi", None, "jinja2", "3.1.4", "BSD-3-Clause"),
    ("npm", None, "lodash", "4.17.21", "MIT"), ("npm", None, "react", "18.3.1", "MIT"),
    ("npm", None, "express", "4.21.1", "MIT"), ("npm", None, "axios", "1.7.7", "MIT"),
    ("npm", "@angular", "core", "18.2.8", "MIT"), ("npm", None, "moment", "2.30.1", "MIT"),
    ("npm", None, "jsonwebtoken", "9.0.2", "MIT"), ("npm", None, "minimist", "1.2.8", "MIT"),
    ("maven", "org.apache.logging.log4j", "log4j-core", "2.24.1", "Apache-2.0"),
    ("maven", "com.fasterxml.jackson.core", "jackson-databind", "2.18.0", "Apache-2.0"),
    ("maven", "org.springframework", "spring-core", "6.1.14", "Apache-2.0"),
    ("maven", "com.google.guava", "guava", "33.3.1-jre", "Apache-2.0"),
    ("maven", "org.postgresql", "postgresql", "42.7.4", "BSD-2-Clause"),
    ("golang", "github.com/gin-gonic", "gin", "v1.10.0", "MIT"),
    ("golang", "github.com/sirupsen", "logrus", "v1.9.3", "MIT"),
    ("golang", "golang.org/x", "crypto", "v0.28.0", "BSD-3-Clause"),
    ("cargo", None, "serde", "1.0.210", "MIT"), ("cargo", None, "tokio", "1.40.0", "MIT"),
    ("nuget", None, "Newtonsoft.Json", "13.0.3", "MIT"),
    ("generic", None, "openssl", "3.0.15", "Apache-2.0"), ("generic", None, "zlib", "1.3.1", "Zlib"),
    ("generic", None, "curl", "8.10.1", "curl"), ("deb", "debian", "libc6", "2.36-9+deb12u8", "LGPL-2.1-or-later"),
]


def purl(eco: str, group: str | None, name: str, version: str) -> str:
    if eco == "maven":
        return f"pkg:maven/{group}/{name}@{version}"
    if eco == "golang":
        return f"pkg:golang/{group}/{name}@{version}"
    if eco == "npm" and group:
        return f"pkg:npm/{group.replace('@', '%40')}/{name}@{version}"
    if eco == "deb":
        return f"pkg:deb/{group}/{name}@{version}?arch=amd64"
    return f"pkg:{eco}/{name}@{version}"


def _pick(rng: random.Random) -> list[tuple]:
    return rng.sample(PACKAGES, rng.randint(5, 14))


def cyclonedx(rng: random.Random, product: str, supplier: str) -> bytes:
    comps, deps = [], []
    root_ref = f"{product}@1.0.0"
    for eco, group, name, version, lic in _pick(rng):
        ref = purl(eco, group, name, version)
        comp = {
            "type": "library", "bom-ref": ref, "name": name, "version": version, "purl": ref,
            "licenses": [{"license": {"id": lic}}] if lic != "curl" else [{"license": {"name": "curl License"}}],
            "hashes": [{"alg": "SHA-256", "content": hashlib.sha256(ref.encode()).hexdigest()}],
        }
        if group and eco in ("maven", "npm"):
            comp["group"] = group
        comps.append(comp)
        deps.append({"ref": ref, "dependsOn": []})
    deps.append({"ref": root_ref, "dependsOn": [c["bom-ref"] for c in comps]})
    doc = {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}", "version": 1,
        "metadata": {
            "timestamp": "2026-09-15T08:30:00Z",
            "tools": {"components": [{"type": "application", "name": "syft", "version": "1.14.0"}]},
            "component": {"type": "application", "bom-ref": root_ref, "name": product, "version": "1.0.0"},
            "supplier": {"name": supplier},
        },
        "components": comps,
        "dependencies": deps,
    }
    return json.dumps(doc, indent=2).encode()


def spdx(rng: random.Random, product: str, supplier: str) -> bytes:
    pkgs, rels = [], []
    root = "SPDXRef-Package-root"
    pkgs.append({"SPDXID": root, "name": product, "versionInfo": "1.0.0", "downloadLocation": "NOASSERTION",
                 "filesAnalyzed": False, "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
                 "copyrightText": "NOASSERTION", "supplier": f"Organization: {supplier}"})
    rels.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": root})
    for i, (eco, group, name, version, lic) in enumerate(_pick(rng)):
        sid = f"SPDXRef-Package-{i}"
        lic_expr = lic if lic != "curl" else "curl"
        pkgs.append({
            "SPDXID": sid, "name": name, "versionInfo": version, "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False, "licenseConcluded": lic_expr, "licenseDeclared": lic_expr,
            "copyrightText": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": purl(eco, group, name, version)}],
        })
        rels.append({"spdxElementId": root, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": sid})
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": product,
        "documentNamespace": f"https://sbom.{supplier.lower().replace(' ', '-')}.example/{product}/"
                             f"{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "creationInfo": {"created": "2026-09-15T08:30:00Z",
                         "creators": ["Tool: syft-1.14.0", f"Organization: {supplier}"]},
        "packages": pkgs, "relationships": rels,
    }
    return json.dumps(doc, indent=2).encode()


def malformed_cyclonedx() -> bytes:
    """Looks like CycloneDX 1.5 but breaks the schema: a component without a name, a bad type."""
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": "one",
           "components": [{"type": "not-a-component-type", "version": "1.0"}, {"type": "library"}]}
    return json.dumps(doc).encode()
