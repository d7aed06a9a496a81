"""Seeded random mixes of file names, types and contents (BOMs in every encoding, documents, junk)
through real syncs against both emulators. Invariants, not examples: every attachment ends with
one outcome and a reason, nothing is duplicated, every acceptable file arrives, every name sent
is a safe label, and a second run writes nothing.

The expectations are derived here from the content alone (plain json/xml parsing), not from the
connector's detection code."""

import hashlib
import json
import random
import unicodedata
from collections import Counter
from xml.etree import ElementTree

import pytest

from connector.emulators import sn_sboms
from connector.emulators.fixtures import DOCUMENT_EXTENSIONS
from tests.bom_files import (
    attach,
    cyclonedx_xml,
    dashless_cyclonedx,
    ledger,
    sorted_keys_spdx,
    spdx_tag_value,
    syft_spdx,
    vendor_id,
    vendors_in_sync,
)
from tests.conftest import Harness
from tests.sync_oracle import assert_no_duplicates_and_ledger_consistent

NAMES = ["SOC2 Type II report", "pentest 2026", "access review", "sbom", "Überprüfung", "株式会社 監査", "inventory"]


def _bom(rng: random.Random, nonce: int) -> tuple[bytes, str, str]:
    """(content, extension, content type) of a BOM in one of the shapes real tools write."""
    kind = rng.randrange(7)
    if kind == 0:
        return sn_sboms.cyclonedx(rng, f"p{nonce}", "Vendor"), "json", rng.choice(["application/json", "text/plain"])
    if kind == 1:
        return sn_sboms.spdx(rng, f"p{nonce}", "Vendor"), "json", "application/spdx+json"
    if kind == 2:
        return syft_spdx(nonce), "json", "application/json"
    if kind == 3:
        return dashless_cyclonedx(nonce), rng.choice(["json", "txt", ""]), "application/octet-stream"
    if kind == 4:
        return sorted_keys_spdx(nonce, min_bytes=70 * 1024), "json", "application/json"
    if kind == 5:
        return cyclonedx_xml(nonce), "xml", rng.choice(["application/xml", "text/xml"])
    return spdx_tag_value(nonce), "spdx", "text/plain"


def _junk(rng: random.Random, nonce: int) -> tuple[bytes, str, str]:
    kind = rng.randrange(6)
    if kind == 0:
        return b"%PDF-1.7 " + str(nonce).encode() * 20, "pdf", "application/pdf"
    if kind == 1:
        return f"line {nonce}\n".encode() * 30, rng.choice(["txt", "md", "csv"]), "text/plain"
    if kind == 2:
        return json.dumps({"feature_flags": {"n": nonce}}).encode(), "json", "application/json"  # not a BOM
    if kind == 3:
        raw = dashless_cyclonedx(nonce, components=30)
        return raw[: len(raw) // 2], "json", "application/json"  # a truncated BOM
    if kind == 4:
        return b"MZ" + bytes(200) + str(nonce).encode(), "exe", "application/x-msdownload"
    return b"", rng.choice(["pdf", "txt"]), "application/pdf"


def _name(rng: random.Random, stem: str, ext: str) -> str:
    name = f"{stem}.{ext}" if ext else stem
    for _ in range(rng.randrange(3)):
        twist = rng.randrange(9)
        if twist == 0:
            name = rng.choice(["../../", "a/b/", "C:\\Users\\x\\", "Q1/"]) + name
        elif twist == 1:
            name = rng.choice(["..", ". ", "  ", "..."]) + name
        elif twist == 2:
            name += "   "
        elif twist == 3:
            name = name.replace(" ", rng.choice(["\t", "  ", "\n"]))
        elif twist == 4:
            name = name[:2] + rng.choice(["\x00", "\x1b", "\u202e"]) + name[2:]
        elif twist == 5:
            name = rng.choice(["Ä", "株", "x"]) * rng.randrange(100, 300) + name  # over 255 UTF-8 bytes
        elif twist == 6:
            name = name.upper()
        elif twist == 7 and ext:
            name = name.replace(f".{ext}", f".{ext.upper()}  ")
        else:
            name = rng.choice(["", "   ", "..."]) if rng.random() < 0.3 else name
    return name


def _is_bom(raw: bytes) -> str | None:
    """'ok' for a parseable BOM, 'broken' for one that declares itself and does not parse, None otherwise."""
    text = raw.decode("utf-8", "replace").lstrip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return "broken" if '"bomFormat": "CycloneDX"' in text[:200] else None
        return "ok" if isinstance(doc, dict) and (doc.get("bomFormat") == "CycloneDX" or "spdxVersion" in doc) else None
    if text.startswith("<"):
        try:
            return "ok" if ElementTree.fromstring(raw).tag.startswith("{http://cyclonedx.org/schema/bom/") else None
        except ElementTree.ParseError:
            return None
    return "ok" if text.startswith("SPDXVersion:") else None


def _safe(name: str) -> bool:
    return (bool(name) and len(name.encode()) <= 255 and "/" not in name and "\\" not in name
            and not any(unicodedata.category(c) == "Cc" for c in name) and not name.startswith((".", " "))
            and not name.endswith(" "))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", [3, 11])
def test_random_mixes_of_names_and_contents_keep_every_invariant(tmp_path, seed):
    rng = random.Random(seed)
    h = Harness(tmp_path, config={"boms": {"verdict_poll_rounds": 2, "verdict_poll_interval_seconds": 0}})
    try:
        vendors = vendors_in_sync(h, 12)
        made = {}
        for n in range(36):
            content, ext, ctype = (_bom if rng.random() < 0.45 else _junk)(rng, seed * 1000 + n)
            if ctype == "application/pdf" and _is_bom(content):
                ctype = "application/json"  # a BOM declared as PDF *and* named .pdf is a documented limit
            name = _name(rng, rng.choice(NAMES), ext)
            vendor = rng.choice(vendors)
            key = attach(h, "core_company", vendor, name, content, ctype)
            made[key] = (name, content, ext, vendor)
        h.run()
        st = h.cb_state()
        docs = {(d["vendor_id"], d["sha256"]): d for d in st["documents"] if not d["is_archived"]}
        boms = {(b["vendor_id"], b["sha256"]) for b in st["boms"] if not b["is_archived"]}
        seen: Counter = Counter()
        for key, (name, content, ext, vendor) in made.items():
            rows = [r for r in (ledger(h, "document", key), ledger(h, "bom", key)) if r]
            assert len(rows) == 1, f"{name!r}: {len(rows)} ledger rows"  # one outcome, one entity
            row = rows[0]
            assert row["status"] in ("ok", "invalid"), f"{name!r}: {row['status']} {row['error_message']}"
            if row["status"] != "ok":
                assert row["error_message"], f"{name!r}: no reason"
            where = (vendor_id(h, vendor), hashlib.sha256(content).hexdigest())
            kind = _is_bom(content)
            seen[f"{row['entity']}:{row['status']}"] += 1
            seen["repaired"] += bool(row["repairs"])
            if not content:
                assert row["status"] == "invalid" and "empty" in row["error_message"]
            elif kind == "ok":
                assert row["entity"] == "bom" and row["status"] == "ok", f"{name!r}: {row['error_message']}"
                assert where in boms and row["parse_status"] in ("parsed", "unsupported", "failed")
            elif kind == "broken":
                assert row["entity"] == "bom" and row["status"] == "invalid" and "ends early" in row["error_message"]
            else:
                sent_ext = (name.strip().rsplit(".", 1)[-1].strip().lower() if "." in name.strip() else "")
                acceptable = ext in DOCUMENT_EXTENSIONS and sent_ext == ext
                if acceptable:
                    assert row["status"] == "ok", f"{name!r}: {row['error_message']}"
                    assert where in docs and docs[where]["extension"] == ext
                    assert _safe(docs[where]["name"]), docs[where]["name"]
                    if docs[where]["name"] != name:
                        assert row["original_name"] == name and row["repairs"]
                elif ext not in DOCUMENT_EXTENSIONS:
                    assert row["status"] == "invalid" and "not allowed" in row["error_message"]
        assert all(_safe(d["name"]) for d in st["documents"])
        # The mix exercised every path: BOMs and documents delivered, refusals, repairs.
        assert min(seen["bom:ok"], seen["document:ok"], seen["document:invalid"], seen["repaired"]) >= 3, seen
        assert_no_duplicates_and_ledger_consistent(st, list(h.state.db.query("SELECT * FROM ledger")))
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()
