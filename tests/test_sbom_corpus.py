"""Every SBOM of the shared corpus (files nobody on this project wrote) through a real sync against
both emulators: detected, read, uploaded as a BOM, and Coverbase's verdict read back."""

import hashlib
import json

import pytest

from tests.bom_files import attach, corpus_or_skip, ledger, vendors_in_sync
from tests.conftest import Harness

CONTENT_TYPES = {"json": "application/json", "xml": "application/xml", "tag-value": "text/plain"}


@pytest.mark.timeout(600)
def test_every_corpus_sbom_is_delivered_as_a_bom_with_its_format_version_and_component_count(tmp_path, capsys):
    root, expected = corpus_or_skip()
    h = Harness(tmp_path, config={"boms": {"verdict_poll_rounds": 2, "verdict_poll_interval_seconds": 0}})
    try:
        vendors = vendors_in_sync(h, len(expected))
        keys = {}
        for i, (rel, e) in enumerate(sorted(expected.items())):
            content = (root / rel).read_bytes()
            # Real uploads carry real names and types, some generic: detection must not depend on them.
            ctype = CONTENT_TYPES[e["encoding"]] if i % 3 else "application/octet-stream"
            keys[rel] = (attach(h, "core_company", vendors[i % len(vendors)], rel.split("/")[-1], content, ctype),
                         vendors[i % len(vendors)], hashlib.sha256(content).hexdigest())
        report = h.run()
        boms = {b["sha256"]: b for b in h.cb_state()["boms"]}
        delivered, warnings = 0, []
        for rel, (key, vendor_key, sha) in sorted(keys.items()):
            e = expected[rel]
            row = ledger(h, "bom", key)
            assert row is not None and row["status"] == "ok", f"{rel}: {row and row['error_message']}"
            assert (row["bom_format"], row["bom_spec_version"]) == (e["format"], e["spec_version"]), rel
            if e["components"] is not None:
                assert row["component_count"] == e["components"], rel
            bom = boms[sha]
            assert (bom["vendor_id"] == ledger(h, "vendor", vendor_key)["coverbase_id"]
                    and bom["id"] == row["coverbase_id"])
            if e["encoding"] == "json":  # Coverbase parses CycloneDX and SPDX JSON ...
                assert (bom["parse_status"], bom["format"], bom["spec_version"]) == ("parsed", e["format"],
                                                                                  e["spec_version"]), rel
                assert bom["component_count"] == e["components"] == row["parsed_component_count"], rel
            else:  # ... and stores the rest unparsed: still the vendor's SBOM, and the ledger says so
                assert bom["parse_status"] == "unsupported", rel
            assert row["parse_status"] == bom["parse_status"], rel
            delivered += 1
            warnings += [f"{rel}: {w}" for w in json.loads(row["warnings"] or "[]") if w.startswith("schema")]
        assert delivered == len(expected) == 34
        assert report.entities["boms"].outcomes["invalid"] == 0
        assert ledger(h, "document", keys[sorted(keys)[0]][0]) is None  # a BOM is never also a document
        with capsys.disabled():
            print(f"\n[corpus] {delivered} of {len(expected)} SBOMs delivered as BOMs; schema warnings seen "
                  f"({len(warnings)}):")
            for w in warnings:
                print(f"[corpus]   {w[:220]}")
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []  # nothing re-sent, and no verdict left to read
    finally:
        h.close()
