"""Individual behaviours of the sync engine, each against both emulators over HTTP."""

import hashlib

import httpx
import pytest

from connector.emulators.fixtures import CONTROL_SETS, FOREIGN_ORG_EMAILS, STATUSES, TAGS
from connector.errors import FatalSyncError
from connector.sources.base import Window
from tests.conftest import Harness
from tests.sync_oracle import expected


def ledger(h: Harness, entity: str, key: str):
    return h.state.ledger_row(entity, "servicenow", key)


def cb_vendor(h: Harness, sys_id: str) -> dict:
    return next(v for v in h.cb_state()["vendors"] if v["external_id"] == sys_id)


def a_vendor(h: Harness) -> str:
    return sorted(expected(h.sn.emu.ds).vendors)[5]


def test_lost_state_relinks_everything_without_creating_anything(harness, tmp_path):
    harness.run()
    before = harness.cb_state()
    harness.state.close()
    harness.state_path.unlink()
    fresh = Harness.__new__(Harness)
    fresh.__dict__.update(harness.__dict__)
    from connector.state import StateDB

    harness.state = StateDB(tmp_path / "fresh.db")
    harness.engine.state = harness.state
    mark = harness.mark()
    report = harness.run()
    creates = [w for w in harness.writes_since(mark) if w["method"] == "POST" and w["path"] in ("/v1/vendors",)
               or w["path"].endswith("/services")]
    assert creates == []
    assert len(harness.cb_state()["vendors"]) == len(before["vendors"])
    assert report.entities["vendors"].outcomes["linked"] == len(before["vendors"])
    assert report.entities["services"].outcomes["linked"] > 0


def test_vendor_lookup_uses_one_listing_when_many_vendors_lack_an_id(harness, tmp_path):
    harness.run()
    from connector.state import StateDB

    harness.state.close()
    harness.state = StateDB(tmp_path / "fresh.db")
    harness.engine.state = harness.state
    mark = harness.mark()
    harness.run(entities=["users", "vendors"])
    lookups = [e for e in harness.cb.emu.log[mark:] if e["path"] == "/v1/vendors" and e["method"] == "GET"]
    assert len(lookups) <= 3  # count + one page of 200, not one query per vendor


def test_service_create_never_duplicates_after_ambiguous_answers(tmp_path):
    h = Harness(tmp_path, cb_faults={"rate_ambiguous": 0.5, "seed": 3, "path_filter": "/services$"})
    try:
        h.run()
        h.run()
        exts = [s["external_id"] for v in h.cb_state()["vendors"] for s in v["services"]]
        assert len(exts) == len(set(exts)) and set(exts) == set(expected(h.sn.emu.ds).services)
    finally:
        h.close()


def test_a_pending_service_from_a_crash_is_read_back_not_created_again(harness):
    harness.run(entities=["users", "vendors"])
    eng_key, vendor_key = next(iter(expected(harness.sn.emu.ds).services.items()))
    vid = cb_vendor(harness, vendor_key)["id"]
    # A previous process sent the POST and died before recording the answer:
    harness.cb_client.create_service(vid, __import__("connector.coverbase.models", fromlist=["ServiceCreate"])
                                     .ServiceCreate(name="Created before the crash", external_id=eng_key))
    from connector.state import LedgerRow

    harness.state.upsert_ledger([LedgerRow(entity="service", source="servicenow", source_key=eng_key, status="pending",
                                           parent_id=vid)])
    harness.run()
    services = cb_vendor(harness, vendor_key)["services"]
    assert [s["external_id"] for s in services].count(eng_key) == 1
    assert ledger(harness, "service", eng_key).status == "ok"


def test_a_vendor_whose_ledger_row_was_rewritten_this_run_still_gets_its_services_read_back(harness):
    """A row rewritten in a later run (its message changed) carries that run's id; only the
    changelog says what this run created. Taking the vendor for new would skip the read-back."""
    harness.run(entities=["users", "vendors"])
    eng_key, vendor_key = next(iter(expected(harness.sn.emu.ds).services.items()))
    vid = cb_vendor(harness, vendor_key)["id"]
    harness.cb_client.create_service(vid, __import__("connector.coverbase.models", fromlist=["ServiceCreate"])
                                     .ServiceCreate(name="Created by a run whose ledger row was lost",
                                                    external_id=eng_key))
    harness.state.db.execute("UPDATE ledger SET error_message = 'an older note' WHERE entity = 'vendor' "
                             "AND source_key = ?", [vendor_key])
    harness.run()
    services = cb_vendor(harness, vendor_key)["services"]
    assert [s["external_id"] for s in services].count(eng_key) == 1
    assert ledger(harness, "service", eng_key).status == "ok"


def test_user_of_another_org_is_rejected_and_the_vendor_syncs_without_them(harness):
    report = harness.run()
    foreign = next(k for k, u in harness.sn.emu.tables["sys_user"].items() if u["email"] == FOREIGN_ORG_EMAILS[0])
    row = ledger(harness, "user", foreign)
    assert row.status == "rejected" and "user_exists" in row.error_message
    vendor_key = next(k for k, v in harness.sn.emu.tables["core_company"].items() if v["contact"] == foreign)
    assert cb_vendor(harness, vendor_key)
    assert report.entities["users"].outcomes["rejected"] >= 1


def test_rejected_users_are_not_retried_until_asked(harness):
    harness.run()
    mark = harness.mark()
    harness.run()
    assert not any(w["path"] == "/v1/users" for w in harness.writes_since(mark))
    harness.run(retry_rejected=True)
    assert any(w["path"] == "/v1/users" for w in harness.writes_since(mark))


def _doc_attachment(h: Harness) -> tuple[str, dict]:
    exp = expected(h.sn.emu.ds)
    key = sorted(exp.documents)[0]
    return key, h.sn.emu.tables["sys_attachment"][key]


def test_changed_attachment_content_uploads_once_and_archives_the_old_document(harness):
    harness.run()
    key, row = _doc_attachment(harness)
    old = ledger(harness, "document", key).coverbase_id
    content = b"%PDF-1.7 a new version of the evidence"
    harness.sn.emu.blobs[key].content = content
    harness.sn.emu.update("sys_attachment", key, {"size_bytes": str(len(content)),
                                                  "hash": hashlib.sha256(content).hexdigest()})
    mark = harness.mark()
    report = harness.run()
    writes = [(w["method"], w["path"]) for w in harness.writes_since(mark)]
    assert writes == [("POST", "/v1/documents"), ("DELETE", f"/v1/documents/{old}")]
    assert report.entities["documents"].outcomes["updated"] == 1
    docs = {d["id"]: d for d in harness.cb_state()["documents"]}
    assert (docs[old]["is_archived"]
            and docs[ledger(harness, "document", key).coverbase_id]["sha256"] == hashlib.sha256(content).hexdigest())


def test_same_content_with_a_new_timestamp_is_not_uploaded_again(harness):
    harness.run()
    key, _ = _doc_attachment(harness)
    harness.sn.emu.update("sys_attachment", key, {"sys_tags": "touched"})
    mark = harness.mark()
    harness.run()
    assert harness.writes_since(mark) == []


def test_attachment_deleted_at_the_source_archives_the_document(harness):
    harness.run()
    key, _ = _doc_attachment(harness)
    doc_id = ledger(harness, "document", key).coverbase_id
    harness.sn.emu.delete("sys_attachment", key)
    report = harness.run()
    assert report.entities["documents"].outcomes["archived"] == 1
    assert next(d for d in harness.cb_state()["documents"] if d["id"] == doc_id)["is_archived"]
    assert ledger(harness, "document", key).status == "archived"


def test_assessment_cancelled_after_creation_is_archived(harness):
    harness.run()
    key = sorted(expected(harness.sn.emu.ds).assessments)[0]
    aid = ledger(harness, "assessment", key).coverbase_id
    harness.sn.emu.update("sn_vdr_risk_asmt_assessment", key, {"state": "cancelled"})
    mark = harness.mark()
    harness.run()
    assert [(w["method"], w["path"]) for w in harness.writes_since(mark)] == [("DELETE", f"/v1/assessments/{aid}")]
    assert ledger(harness, "assessment", key).status == "archived"
    mark = harness.mark()
    harness.run()
    assert harness.writes_since(mark) == []


def test_assessment_deleted_at_the_source_is_archived(harness):
    harness.run()
    key = sorted(expected(harness.sn.emu.ds).assessments)[1]
    aid = ledger(harness, "assessment", key).coverbase_id
    harness.sn.emu.delete("sn_vdr_risk_asmt_assessment", key)
    mark = harness.mark()
    harness.run()
    assert [(w["method"], w["path"]) for w in harness.writes_since(mark)] == [("DELETE", f"/v1/assessments/{aid}")]
    row = ledger(harness, "assessment", key)
    assert row.status == "archived" and "no longer in ServiceNow" in row.error_message
    mark = harness.mark()
    harness.run()
    assert harness.writes_since(mark) == []


def test_assessment_deleted_before_it_was_assessed_is_skipped_with_the_reason(harness):
    harness.run()
    synced = expected(harness.sn.emu.ds).assessments
    key = next(k for k, r in sorted(harness.state.ledger("assessment", "servicenow").items())
               if k not in synced and not r.coverbase_id)
    harness.sn.emu.delete("sn_vdr_risk_asmt_assessment", key)
    mark = harness.mark()
    harness.run()
    assert harness.writes_since(mark) == []
    row = ledger(harness, "assessment", key)
    assert (row.status == "skipped" and "no longer in ServiceNow" in row.error_message
            and "never assessed" in row.error_message)


def test_a_person_deactivated_in_servicenow_is_dropped_from_owners_and_left_to_the_idp(harness):
    harness.run()
    snap = harness.engine.snapshot()
    vkey, ukey = next((k, v.owner_keys[0]) for k, v in sorted(snap.vendors.items())
                      if len(v.owner_keys) == 1 and ledger(harness, "vendor", k)
                      and ledger(harness, "vendor", k).status == "ok"
                      and ledger(harness, "user", v.owner_keys[0])
                      and ledger(harness, "user", v.owner_keys[0]).status == "ok")
    uid = ledger(harness, "user", ukey).coverbase_id
    assert uid in cb_vendor(harness, vkey)["relationship_owner_ids"]
    harness.sn.emu.update("sys_user", ukey, {"active": "false"})
    mark = harness.mark()
    harness.run()
    writes = harness.writes_since(mark)
    assert (("PATCH", f"/v1/vendors/{ledger(harness, 'vendor', vkey).coverbase_id}")
            in [(w["method"], w["path"]) for w in writes])
    assert not [w for w in writes if w["path"].startswith("/v1/users")]  # membership is the IdP's business
    assert uid not in cb_vendor(harness, vkey)["relationship_owner_ids"]
    row = ledger(harness, "user", ukey)
    assert row.status == "skipped" and "inactive" in row.error_message


def test_circuit_breaker_stops_a_mass_archive_before_writing(tmp_path):
    h = Harness(tmp_path, config={"thresholds": {"breaker_min_records": 5, "breaker_archive_share": 0.2}})
    try:
        h.run()
        docs = sorted(expected(h.sn.emu.ds).documents)
        for key in docs[: len(docs) // 2]:
            h.sn.emu.delete("sys_attachment", key)
        mark = h.mark()
        with pytest.raises(FatalSyncError, match="circuit breaker: this run would archive"):
            h.run()
        assert h.writes_since(mark) == []
        h.run(allow_mass_changes=True)
        assert sum(d["is_archived"] for d in h.cb_state()["documents"]) == len(docs) // 2
    finally:
        h.close()


def test_bom_entitlement_off_defers_then_syncs_when_switched_on(harness):
    harness.cb.emu.store.main_org.bom_entitled = False
    report = harness.run()
    assert report.entities["boms"].outcomes["deferred"] == len(expected(harness.sn.emu.ds).boms)
    assert "entitlement is off" in report.entities["boms"].problems[0].reason
    harness.cb.emu.store.main_org.bom_entitled = True
    report = harness.run()
    assert report.entities["boms"].outcomes["created"] == len(expected(harness.sn.emu.ds).boms)


def test_bom_named_txt_is_detected_by_content_and_parsed(harness):
    harness.run()
    case = next(c for c in harness.sn.emu.ds.dirty if c.entity == "bom" and c.status == "ok")
    bom_id = ledger(harness, "bom", case.sys_id).coverbase_id
    bom = harness.cb_client.get_bom(bom_id)
    assert bom.format == "cyclonedx" and bom.component_count > 0


def test_unknown_trigger_workflow_rejects_assessments_with_the_reason(tmp_path):
    h = Harness(tmp_path, config={"assessments": {"trigger_workflow": "no-such-flow"}})
    try:
        report = h.run()
        rep = report.entities["assessments"]
        assert rep.outcomes["rejected"] == len(expected(h.sn.emu.ds).assessments)
        assert "workflow_not_found" in rep.problems[0].reason
        assert h.cb_state()["assessments"] == []
    finally:
        h.close()


def test_configured_workflow_control_sets_status_and_tags_are_sent(tmp_path):
    cs = list(CONTROL_SETS)
    status_id, tag_id = list(STATUSES)[0], list(TAGS)[0]
    h = Harness(tmp_path, config={
        "assessments": {"trigger_workflow": "annual-reassessment-flow",
                        "control_sets_by_template": {"Standard security assessment": cs[:2]}},
        "vendors": {"status_field": "rank_tier", "status_map": {"strategic": status_id},
                    "tag_map": {"Software": tag_id}},
        "source": {"tables": {"vendors": {"table": "core_company", "filter": "vendor=true", "fields": [
            "sys_id", "name", "vendor", "website", "notes", "city", "state", "country", "vendor_manager", "contact",
            "vendor_type", "rank_tier", "sys_updated_on"]}}}})
    try:
        h.run()
        st = h.cb_state()
        assert any(a["control_set_ids"] == sorted(cs[:2]) for a in st["assessments"])
        assert all(a["workflow_run_id"] for a in st["assessments"])
        assert any(v["status"] == STATUSES[status_id] for v in st["vendors"])
        assert any(TAGS[tag_id] in v["tags"] for v in st["vendors"])
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()


def test_assessment_idempotency_key_comes_from_the_source_record(harness):
    harness.run()
    key = sorted(expected(harness.sn.emu.ds).assessments)[0]
    posts = [e for e in harness.cb.emu.log if e["path"] == "/v1/assessments" and e["method"] == "POST"]
    assert f"sn:sn_vdr_risk_asmt_assessment:{key}" in {p["idempotency_key"] for p in posts}
    assert ledger(harness, "assessment", key).idempotency_key == f"sn:sn_vdr_risk_asmt_assessment:{key}"


def test_vendor_deleted_by_hand_is_recreated_with_a_new_key_and_its_services_follow(harness):
    harness.run()
    vendor_key = next(v for v, n in expected(harness.sn.emu.ds).services.items())
    vendor_key = expected(harness.sn.emu.ds).services[vendor_key]
    old = cb_vendor(harness, vendor_key)
    httpx.delete(f"{harness.cb.url}/_emulator/vendors/{old['id']}")
    harness.sn.emu.update("core_company", vendor_key, {"notes": "changed after the hand deletion"})
    report = harness.run()
    new = cb_vendor(harness, vendor_key)
    assert new["id"] != old["id"] and "deleted by hand" in ledger(harness, "vendor", vendor_key).error_message
    assert ledger(harness, "vendor", vendor_key).idempotency_key.endswith(":g2")
    harness.run()  # children notice their parent moved
    exp_services = {e for e, v in expected(harness.sn.emu.ds).services.items() if v == vendor_key}
    assert {s["external_id"] for s in cb_vendor(harness, vendor_key)["services"]} == exp_services
    assert report.entities["vendors"].outcomes["created"] == 1


def test_transient_failures_are_retried_next_run_whatever_their_hash(tmp_path):
    h = Harness(tmp_path, cb_faults={"rate_5xx": 1.0, "path_filter": "^/v1/documents$"})
    try:
        from connector.http.retrying import RetrySettings

        h.cb_client.retry = RetrySettings(max_retries=1, backoff_initial=0.001)
        first = h.run()
        assert first.entities["documents"].outcomes["transient"] > 0
        h.cb.emu.set_faults({"rate_5xx": 0.0})
        second = h.run()
        assert second.entities["documents"].outcomes["created"] == first.entities["documents"].outcomes["transient"]
    finally:
        h.close()


def test_backfill_window_sends_records_again_even_if_unchanged(harness):
    harness.run()
    vendor_key = a_vendor(harness)
    updated = harness.sn.emu.tables["core_company"][vendor_key]["sys_updated_on"]
    day = updated[:10]
    mark = harness.mark()
    report = harness.run(window=Window(f"{day} 00:00:00", f"{day} 23:59:59"))
    patched = {w["path"] for w in harness.writes_since(mark) if w["method"] == "PATCH"}
    assert f"/v1/vendors/{cb_vendor(harness, vendor_key)['id']}" in patched
    assert report.entities["vendors"].outcomes["updated"] >= 1
    mark = harness.mark()
    harness.run()
    assert harness.writes_since(mark) == []  # the force flag is spent


def test_writes_run_concurrently(tmp_path):
    h = Harness(tmp_path, cb_faults={"latency_ms": 30})
    try:
        h.run(entities=["users", "vendors"])
        posts = sorted((e["ts"], e["ts"] + e["duration_ms"] / 1000) for e in h.cb.emu.log if e["path"] == "/v1/vendors"
                       and e["method"] == "POST")
        overlap = max(sum(1 for s, e in posts if s <= t < e) for t, _ in posts)
        assert overlap >= 4
    finally:
        h.close()
