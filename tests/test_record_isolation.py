"""One record is one record: a problem with one record or one file is that record's outcome, with a
reason naming the record and the cause; every other record syncs."""

from __future__ import annotations

import pytest

from connector.emulators.servicenow_app import CANCELLED
from tests.conftest import Harness
from tests.sync_oracle import assert_end_state

pytestmark = pytest.mark.timeout(300)


def _row(h: Harness, entity: str, key: str) -> dict:
    rows = list(h.state.db.query("SELECT * FROM ledger WHERE entity = ? AND source_key = ?", [entity, key]))
    assert rows, f"no outcome for {entity} {key}"
    return rows[0]


def _a_vendor(h: Harness, i: int = 0) -> dict:
    rows = sorted((r for r in h.sn.emu.tables["core_company"].values() if r["vendor"] == "true" and r["name"].strip()),
                  key=lambda r: r["sys_id"])
    return rows[i]


def test_an_html_attachment_and_a_vendor_quoting_the_cancel_sentence_do_not_stop_anything(harness):
    vendor = _a_vendor(harness)
    harness.sn.emu.update("core_company", vendor["sys_id"], {"notes": f"Support said: {CANCELLED}"})
    page = harness.sn.emu.add_attachment("core_company", vendor["sys_id"], "trust-center.html",
                                         b"<html><body>Trust center</body></html>", "text/html")
    report = harness.run()
    assert report.fatal is None
    assert_end_state(harness)  # every other record arrived
    assert _row(harness, "vendor", vendor["sys_id"])["status"] == "ok"
    held = {v["external_id"]: v for v in harness.cb_state()["vendors"]}
    assert CANCELLED in held[vendor["sys_id"]]["description"]
    doc = _row(harness, "document", page["sys_id"])
    assert doc["status"] == "invalid" and "file type .html is not allowed by Coverbase" in doc["error_message"]


def test_a_value_too_long_for_coverbase_is_that_vendors_rejection_and_its_children_wait_with_the_reason(tmp_path):
    h = Harness(tmp_path, cb_faults={"max_string_length": 2000})
    try:
        vendor = _a_vendor(h, 1)
        h.sn.emu.update("core_company", vendor["sys_id"], {"notes": "x" * 5000})
        report = h.run()
        assert report.fatal is None
        row = _row(h, "vendor", vendor["sys_id"])
        assert row["status"] == "rejected" and "description" in row["error_message"] and "2000" in row["error_message"]
        held = {v["external_id"] for v in h.cb_state()["vendors"]}
        assert vendor["sys_id"] not in held and len(held) >= 20
        children = [r for r in h.sn.emu.tables["sn_vdr_risk_asmt_vendor_engagement"].values()
                    if r["vendor"] == vendor["sys_id"] and r["name"].strip()]
        for e in children:
            s = _row(h, "service", e["sys_id"])
            assert (s["status"] == "deferred" and vendor["sys_id"] in s["error_message"]
                    and "rejected" in s["error_message"])
    finally:
        h.close()


def test_a_download_that_fails_after_its_retries_is_that_documents_transient_outcome(tmp_path):
    h = Harness(tmp_path)
    try:
        vendor = _a_vendor(h, 2)
        a = h.sn.emu.add_attachment("core_company", vendor["sys_id"], "Pen test 2026.pdf", b"%PDF-1.7\nx\n%%EOF\n",
                                    "application/pdf")
        h.sn.emu.set_faults({"rate_5xx": 1.0, "path_filter": f"/attachment/{a['sys_id']}/file$"})
        report = h.run()
        assert report.fatal is None
        row = _row(h, "document", a["sys_id"])
        assert row["status"] == "transient" and ("502" in row["error_message"] or "503" in row["error_message"])
        h.sn.emu.set_faults({"rate_5xx": 0.0, "path_filter": None})
        h.run()
        assert _row(h, "document", a["sys_id"])["status"] == "ok"
        assert_end_state(h)
    finally:
        h.close()


def test_bytes_that_do_not_match_servicenows_hash_are_never_uploaded_and_say_so(harness):
    vendor = _a_vendor(harness, 3)
    a = harness.sn.emu.add_attachment("core_company", vendor["sys_id"], "Insurance 2026.pdf", b"%PDF-1.4\nreal\n",
                                      "application/pdf")
    harness.sn.emu.update("sys_attachment", a["sys_id"], {"hash": "0" * 64})
    report = harness.run()
    assert report.fatal is None
    row = _row(harness, "document", a["sys_id"])
    assert row["status"] not in ("ok", "pending") and "hash" in row["error_message"]
    assert not [d for d in harness.cb_state()["documents"] if d["name"].startswith("Insurance 2026")]
