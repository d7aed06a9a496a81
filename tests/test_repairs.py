"""Repaired rather than dropped: odd file names and records a sensible repair saves, through real
syncs against both emulators. The original stays in the ledger and the run's metadata."""

import json

import pytest

from assets.common import push_metadata
from tests.bom_files import attach, ledger, vendor_id, vendors_in_sync

ODD = [("../../etc/passwd.pdf", "passwd.pdf"), ("Q1/Q2 access review.pdf", "Q2 access review.pdf"),
       ("..Final pentest report.pdf", "Final pentest report.pdf")]


@pytest.mark.timeout(300)
def test_odd_file_names_arrive_as_documents_with_safe_names_on_the_right_vendor(harness):
    h = harness
    vendors = vendors_in_sync(h, 3)
    keys = [attach(h, "core_company", vendors[i], name, b"%PDF-1.7 evidence " + name.encode(), "application/pdf")
            for i, (name, _) in enumerate(ODD)]
    report = h.run()
    docs = {d["name"]: d for d in h.cb_state()["documents"] if not d["is_archived"]}
    for key, vendor, (original, safe) in zip(keys, vendors, ODD):
        row = ledger(h, "document", key)
        assert row["status"] == "ok", row["error_message"]
        assert docs[safe]["vendor_id"] == vendor_id(h, vendor) == row["parent_id"]
        assert docs[safe]["id"] == row["coverbase_id"] and docs[safe]["extension"] == "pdf"
        assert row["original_name"] == original and row["label"] == original
        assert f"sent as {safe!r}" in json.loads(row["repairs"])[0] and f"sent as {safe!r}" in row["error_message"]
    md = push_metadata(report.entities["documents"], dry_run=False)["repairs"].value
    assert all(repr(original) in md for original, _ in ODD)
    mark = h.mark()
    h.run()
    assert h.writes_since(mark) == []  # a repaired name is stable: nothing re-sent


@pytest.mark.timeout(300)
def test_a_name_without_extension_is_delivered_with_the_one_its_content_type_names(harness):
    h = harness
    v = vendors_in_sync(h, 1)[0]
    key = attach(h, "core_company", v, "SOC2 Type II report", b"%PDF-1.7 soc2", "application/pdf")
    h.run()
    row = ledger(h, "document", key)
    assert row["status"] == "ok" and row["original_name"] == "SOC2 Type II report"
    assert h.cb_client.get_document(row["coverbase_id"]).name == "SOC2 Type II report.pdf"


@pytest.mark.timeout(300)
def test_an_engagement_without_a_name_is_named_after_its_number(harness):
    h = harness
    case = next(c for c in h.sn.emu.ds.dirty if c.entity == "service" and "empty name" in c.what)
    number = h.sn.emu.tables["sn_vdr_risk_asmt_vendor_engagement"][case.sys_id]["number"]
    report = h.run()
    row = ledger(h, "service", case.sys_id)
    assert row["status"] == "ok" and f"named after its number {number}" in json.loads(row["repairs"])[0]
    vendor = h.cb_client.get_vendor(row["parent_id"])
    assert {s.name for s in vendor.services if s.external_id == case.sys_id} == {number}
    assert any(p.key == case.sys_id for p in report.entities["services"].repairs)
    h.sn.emu.update("sn_vdr_risk_asmt_vendor_engagement", case.sys_id, {"name": "Managed hosting"})
    h.run()  # named at the source later: the name follows, the repair is cleared
    row = ledger(h, "service", case.sys_id)
    assert row["repairs"] is None
    assert {s.name for s in h.cb_client.get_vendor(row["parent_id"]).services if s.external_id == case.sys_id} == \
        {"Managed hosting"}


@pytest.mark.timeout(300)
def test_an_assessment_without_a_vendor_takes_its_engagements_vendor(harness):
    h = harness
    eng_key = next(k for k, r in sorted(h.sn.emu.tables["sn_vdr_risk_asmt_vendor_engagement"].items())
                   if r["vendor"] in vendors_in_sync(h, 1000) and r["name"])
    eng = h.sn.emu.tables["sn_vdr_risk_asmt_vendor_engagement"][eng_key]
    row = h.sn.emu.insert("sn_vdr_risk_asmt_assessment", {
        "number": "ASMT9999999", "name": "Vendorless annual review", "vendor": "", "engagement": eng_key,
        "state": "ready_to_take", "assigned_to": "", "assessment_template": ""})
    h.run()
    led = ledger(h, "assessment", row["sys_id"])
    assert led["status"] == "ok" and "took its engagement's vendor" in json.loads(led["repairs"])[0]
    assert h.cb_client.get_assessment(led["coverbase_id"]).vendor_id == vendor_id(h, eng["vendor"])


@pytest.mark.timeout(300)
def test_an_email_written_with_a_display_name_is_read_as_the_address(harness):
    h = harness
    vendor = vendors_in_sync(h, 1)[0]
    user = h.sn.emu.insert("sys_user", {"user_name": "dana.lee", "email": "Dana Lee <Dana.Lee@Globex.example>",
                                        "first_name": "Dana", "last_name": "Lee", "name": "Dana Lee", "active": "true"})
    manager = h.sn.emu.tables["core_company"][vendor]["vendor_manager"]
    h.sn.emu.update("core_company", vendor, {"vendor_manager": ",".join(filter(None, [manager, user["sys_id"]]))})
    report = h.run()
    row = ledger(h, "user", user["sys_id"])
    assert row["status"] == "ok" and "read as 'Dana.Lee@Globex.example'" in json.loads(row["repairs"])[0]
    assert "dana.lee@globex.example" in {u["email"].lower() for u in h.cb_state()["users"]}
    assert any(p.key == user["sys_id"] for p in report.entities["users"].repairs)
