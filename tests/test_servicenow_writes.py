"""Table API writes: the emulator against servicenow-writes.md §B, and what ServiceNowWriter makes of each answer."""

import httpx
import pytest

from connector.servicenow.errors import ServiceNowAuthError
from connector.servicenow.writer import ServiceNowWriter

ASMT = "sn_vdr_risk_asmt_assessment"
JSON = {"Accept": "application/json"}


@pytest.fixture
def http(servicenow):
    with httpx.Client(base_url=servicenow.url, auth=("integration.user", "demo-password-not-secret"), timeout=30) as c:
        yield c


@pytest.fixture
def sys_id(servicenow):
    return sorted(servicenow.emu.tables[ASMT])[0]


def test_patch_and_put_are_partial_updates_that_bump_the_system_fields(servicenow, http, sys_id):
    row = servicenow.emu.tables[ASMT][sys_id]
    name, count = row["name"], int(row["sys_mod_count"])
    r = http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"u_coverbase_status": "complete"}, headers=JSON)
    assert r.status_code == 200 and r.json()["result"]["u_coverbase_status"] == "complete"
    assert r.json()["result"]["name"] == name and r.json()["result"]["sys_mod_count"] == str(count + 1)
    assert r.json()["result"]["sys_updated_by"] == "integration.user"
    r = http.put(f"/api/now/v2/table/{ASMT}/{sys_id}", json={"u_coverbase_findings": 3}, headers=JSON)
    assert r.json()["result"]["u_coverbase_status"] == "complete"  # PUT never nulls what it did not send
    assert r.json()["result"]["u_coverbase_findings"] == "3" and row["sys_mod_count"] == str(count + 2)


def test_a_no_op_update_changes_nothing(servicenow, http, sys_id):
    http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"u_coverbase_status": "x"}, headers=JSON)
    row = dict(servicenow.emu.tables[ASMT][sys_id])
    r = http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"u_coverbase_status": "x", "no_such_column": "y",
                                                             "sys_updated_by": "mallory", "state": ""}, headers=JSON)
    assert r.status_code == 200 and servicenow.emu.tables[ASMT][sys_id] == row


def test_journal_fields_append_entries_readable_through_the_table_api(servicenow, http, sys_id):
    for text in ("first note", "first note"):  # the same text twice is two entries: writes append
        r = http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"work_notes": text}, headers=JSON)
        assert r.json()["result"]["work_notes"] == "" and r.json()["result"]["comments"] == ""
    rows = http.get("/api/now/table/sys_journal_field", params={
        "sysparm_query": f"element_id={sys_id}^element=work_notes^valueLIKEfirst note"}).json()["result"]
    assert [r["value"] for r in rows] == ["first note", "first note"]
    assert {r["name"] for r in rows} == {ASMT} and {r["sys_created_by"] for r in rows} == {"integration.user"}
    assert http.get(f"/api/now/table/{ASMT}/{sys_id}").json()["result"].get("work_notes", "") == ""


def test_errors_carry_the_documented_bodies(servicenow, http, sys_id):
    servicenow.emu.writes.set_settings({"roles": {"integration.user": ["snc_internal"]}})
    r = http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"work_notes": "x"}, headers=JSON)
    assert r.status_code == 403 and r.json() == {"error": {"message": "Operation Failed", "detail":
                                                           "ACL Exception Update Failed due to security constraints"},
                                                 "status": "failure"}
    servicenow.emu.writes.set_settings({"roles": {}, "hidden_records": [sys_id]})
    for resp in (http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"work_notes": "x"}, headers=JSON),
                 http.get(f"/api/now/table/{ASMT}/{sys_id}")):
        assert resp.status_code == 404 and resp.json()["error"]["message"] == "No Record found"
    assert http.patch(f"/api/now/table/{ASMT}/{sys_id}", content=b'{"work_notes":"x"}',
                      headers=JSON).status_code == 400  # no Content-Type
    assert http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"work_notes": "x"},
                      headers={"Accept": "text/html"}).status_code == 406
    assert http.patch(f"/api/now/table/no_such_table/{sys_id}", json={}, headers=JSON).json()["error"]["message"] == \
        "Invalid table no_such_table"
    assert not servicenow.emu.writes.journal(sys_id)


def test_a_protected_field_is_silently_dropped_with_a_200(servicenow, http, sys_id):
    servicenow.emu.writes.set_settings({"protected_fields": [f"{ASMT}.u_coverbase_score"]})
    before = servicenow.emu.tables[ASMT][sys_id]["sys_mod_count"]
    r = http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"u_coverbase_score": "88"}, headers=JSON)
    assert r.status_code == 200 and r.json()["result"].get("u_coverbase_score", "") == ""
    assert servicenow.emu.tables[ASMT][sys_id]["sys_mod_count"] == before  # nothing else changed: no bump


def test_no_response_body_answers_204(http, sys_id):
    r = http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"u_coverbase_status": "y"},
                   headers={**JSON, "X-no-response-body": "true"})
    assert r.status_code == 204 and r.content == b""


@pytest.mark.parametrize("settings,kind,stored", [
    ({}, "written", True),
    ({"rate_429": 1.0, "retry_after": 0.01}, "rate_limited", False),
    ({"rate_5xx": 1.0}, "in_doubt", False),
    ({"rate_ambiguous": 1.0, "ambiguous_mode": "status"}, "in_doubt", True),
    ({"rate_ambiguous": 1.0, "ambiguous_mode": "disconnect"}, "in_doubt", True),
    ({"roles": {"integration.user": []}}, "denied", False),
    ({"hidden_records": ["__SYS_ID__"]}, "not_found", False),
])
def test_the_writer_says_what_each_answer_proves(servicenow, sn, sys_id, settings, kind, stored):
    settings = {k: ([sys_id] if v == ["__SYS_ID__"] else v) for k, v in settings.items()}
    servicenow.emu.writes.set_settings(settings)
    answer = ServiceNowWriter(sn).patch(ASMT, sys_id, {"work_notes": "note [m1]"}, fields=[])
    assert answer.kind == kind
    assert bool(servicenow.emu.writes.journal(sys_id)) is stored  # "in doubt" covers both: landed or not


@pytest.mark.parametrize("fault", ["rate_202", "rate_truncated", "rate_null", "rate_500", "rate_html"])
def test_a_200_without_a_usable_record_or_a_202_is_in_doubt(servicenow, sn, sys_id, fault):
    servicenow.emu.set_faults({fault: 1.0, "path_filter": f"/{ASMT}/"})
    assert ServiceNowWriter(sn).patch(ASMT, sys_id, {"work_notes": "x"}, fields=[]).kind == "in_doubt"


def test_bad_write_credentials_are_fatal(servicenow, sys_id):
    with servicenow.client(username="integration.user", password="wrong") as client:
        with pytest.raises(ServiceNowAuthError, match="SERVICENOW_WRITE_USERNAME"):
            ServiceNowWriter(client).patch(ASMT, sys_id, {"work_notes": "x"}, fields=[])


def test_the_journal_lookup_finds_a_marker_and_only_that_marker(servicenow, sn, sys_id, http):
    http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"work_notes": "a [cbwb-0000000000000001]"}, headers=JSON)
    http.patch(f"/api/now/table/{ASMT}/{sys_id}", json={"work_notes": "b [cbwb-0000000000000002]"}, headers=JSON)
    w = ServiceNowWriter(sn)
    assert [e["value"] for e in w.journal(sys_id, "cbwb-0000000000000002")] == ["b [cbwb-0000000000000002]"]
    assert w.journal(sys_id, "cbwb-0000000000000003") == []
