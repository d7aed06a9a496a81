"""ServiceNow issues become Coverbase findings: placement, status and due date, changes, dirty cases.
Both emulators over HTTP; Coverbase answers with the documented finding object (no title or body)
unless a test switches the text on."""

from collections import Counter

import pytest

from assets.common import push_metadata
from connector.emulators.fixtures import FINDING_STATUSES
from connector.errors import FatalSyncError
from tests.conftest import Harness
from tests.sync_oracle import assert_findings, expected, issue_of

ISSUE = "sn_vdr_risk_asmt_issue"
OPEN, PROGRESS, REMEDIATED, ACCEPTED, CLOSED = sorted(FINDING_STATUSES)
STATUS_MAP = {"1": OPEN, "2": PROGRESS, "5": PROGRESS, "0": PROGRESS, "Closed Complete": REMEDIATED, "4": CLOSED}
EXPECTED_STATUS = {"1": OPEN, "2": PROGRESS, "5": PROGRESS, "0": PROGRESS, "3": REMEDIATED, "4": CLOSED}
pytestmark = pytest.mark.timeout(300)


def ledger(h: Harness, key: str):
    return h.state.ledger_row("finding", "servicenow", key)


def case(h: Harness, what: str) -> str:
    return next(c.sys_id for c in h.sn.emu.ds.dirty if c.entity == "finding" and c.what.startswith(what))


def finding_of(h: Harness, key: str) -> dict:
    return next(f for f in h.cb_state()["findings"] if issue_of(f) == key)


def a_vendor_issue(h: Harness, state: str | None = None) -> str:
    exp = expected(h.sn.emu.ds)
    rows = h.sn.emu.tables[ISSUE]
    return next(k for k, v in sorted(exp.findings.items())
                if v[1] == "vendor" and rows[k]["due_date"] and (state is None or rows[k]["state"] == state))


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("findings"), config={"findings": {"status_map": STATUS_MAP}})
    h.cb.emu.store.finding_rules.include_text = True  # only the oracle reads it: the connector gets it too
    report = h.run()
    yield h, report
    h.close()


@pytest.mark.parametrize("text", [False, True], ids=["documented object", "with title and body"])
def test_a_clean_sync_creates_each_finding_once_on_its_target_with_status_and_due_date(tmp_path, text):
    h = Harness(tmp_path, config={"findings": {"status_map": STATUS_MAP}})
    try:
        h.cb.emu.store.finding_rules.include_text = text
        report = h.run()
        exp = expected(h.sn.emu.ds)
        rows = h.sn.emu.tables[ISSUE]
        kinds = Counter(v[1] for v in exp.findings.values())
        assert kinds["vendor"] >= 10 and kinds["assessment"] >= 10
        assert any(not rows[k]["vendor"] and rows[k]["engagement"] for k in exp.findings), "engagement-only issues"
        h.cb.emu.store.finding_rules.include_text = True  # for the oracle's eyes
        assert_findings(h, exp, status_map=EXPECTED_STATUS)
        posts = [w for w in h.writes_since(0) if w["path"] == "/v1/findings"]
        assert len(posts) == len(exp.findings) == report.entities["findings"].outcomes["created"]
        h.cb.emu.store.finding_rules.include_text = text
        mark = h.mark()
        again = h.run()
        assert h.writes_since(mark) == []
        assert again.entities["findings"].outcomes["unchanged"] == len(exp.findings)
    finally:
        h.close()


@pytest.mark.parametrize("field,value,check", [
    ("state", "3", lambda f: f["finding_status_id"] == REMEDIATED),
    ("due_date", "2027-01-31 17:00:00", lambda f: f["due_date"] == 1801414800),
], ids=["state", "due date"])
def test_a_changed_state_or_due_date_is_one_patch(tmp_path, field, value, check):
    h = Harness(tmp_path, config={"findings": {"status_map": STATUS_MAP}})
    try:
        h.run()
        key = a_vendor_issue(h, state="1")
        fid = ledger(h, key).coverbase_id
        h.sn.emu.update(ISSUE, key, {field: value})
        mark = h.mark()
        report = h.run()
        assert [(w["method"], w["path"]) for w in h.writes_since(mark)] == [("PATCH", f"/v1/findings/{fid}")]
        assert check(finding_of(h, key)) and report.entities["findings"].outcomes["updated"] == 1
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()


def test_an_issue_with_no_vendor_engagement_or_assessment_is_invalid_with_the_reason(synced):
    h, report = synced
    key = case(h, "issue with no vendor, engagement or assessment")
    row = ledger(h, key)
    assert (row.status == "invalid"
            and row.error_message == "no vendor: the issue names no vendor, engagement or assessment")
    assert any(p.key == key and "no vendor" in p.reason for p in report.entities["findings"].problems)


def test_an_issue_whose_vendor_is_not_synced_waits_then_syncs_with_its_vendor(tmp_path):
    h = Harness(tmp_path)
    try:
        h.run()
        key = case(h, "issue of a vendor that is not synced")
        row = ledger(h, key)
        assert row.status == "deferred" and row.error_message.startswith("waiting for vendor")
        assert "is invalid: name is empty" in row.error_message
        vendor = h.sn.emu.tables[ISSUE][key]["vendor"]
        h.sn.emu.update("core_company", vendor, {"name": "Named At Last Ltd"})
        h.run()
        vid = next(v["id"] for v in h.cb_state()["vendors"] if v["external_id"] == vendor)
        assert ledger(h, key).status == "ok"
        assert [f["vendor_id"] for f in h.cb_state()["findings"] if f["id"] == ledger(h, key).coverbase_id] == [vid]
    finally:
        h.close()


def test_an_issue_with_an_empty_short_description_is_titled_with_its_number(synced):
    h, _ = synced
    key = case(h, "issue with an empty short description")
    row = ledger(h, key)
    number = h.sn.emu.tables[ISSUE][key]["number"]
    assert row.status == "ok" and row.error_message == f"short_description is empty: titled with its number {number}"
    assert finding_of(h, key)["title"] == number


def test_an_issue_with_neither_short_description_nor_number_is_invalid(synced):
    h, _ = synced
    row = ledger(h, case(h, "issue with neither short description nor number"))
    assert row.status == "invalid" and row.error_message == "no title: short_description and number are both empty"


def test_an_unmapped_state_is_sent_without_a_status_and_says_so(tmp_path):
    h = Harness(tmp_path, config={"findings": {"status_map": {"1": OPEN}}})
    try:
        h.run()
        key = a_vendor_issue(h, state="2")
        row = ledger(h, key)
        assert row.status == "ok"
        assert row.error_message == "state 2 (analyze) has no findings.status_map entry: sent without finding_status_id"
        assert finding_of(h, key)["finding_status_id"] is None
        assert finding_of(h, a_vendor_issue(h, state="1"))["finding_status_id"] == OPEN
    finally:
        h.close()


def test_a_state_outside_the_numbering_is_named_in_the_message(synced):
    h, _ = synced
    row = ledger(h, case(h, "issue in a state outside the GRC numbering"))
    assert row.status == "ok" and row.error_message.startswith("unknown state '9' (not in findings.states)")


def test_a_deleted_issue_archives_its_finding(tmp_path):
    h = Harness(tmp_path)
    try:
        h.run()
        key = a_vendor_issue(h)
        fid = ledger(h, key).coverbase_id
        h.sn.emu.delete(ISSUE, key)
        mark = h.mark()
        report = h.run()
        assert [(w["method"], w["path"]) for w in h.writes_since(mark)] == [("PATCH", f"/v1/findings/{fid}")]
        assert next(f for f in h.cb_state()["findings"] if f["id"] == fid)["is_archived"]
        row = ledger(h, key)
        assert row.status == "archived" and "no longer in ServiceNow" in row.error_message
        assert report.entities["findings"].outcomes["archived"] == 1
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()


def test_deleting_most_issues_stops_at_the_circuit_breaker_before_writing(tmp_path):
    h = Harness(tmp_path)
    try:
        h.run()
        for key in sorted(expected(h.sn.emu.ds).findings)[:20]:
            h.sn.emu.delete(ISSUE, key)
        mark = h.mark()
        with pytest.raises(FatalSyncError, match="circuit breaker: this run would archive 20 of .* findings"):
            h.run()
        assert h.writes_since(mark) == []
        h.run(allow_mass_changes=True)
        assert sum(f["is_archived"] for f in h.cb_state()["findings"]) == 20
    finally:
        h.close()


def test_an_issue_deleted_before_it_was_synced_is_skipped_with_the_reason(tmp_path):
    h = Harness(tmp_path)
    try:
        h.run()
        key = case(h, "issue of a vendor that is not synced")  # waiting, so never created
        h.sn.emu.delete(ISSUE, key)
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
        row = ledger(h, key)
        assert row.status == "skipped" and "no longer in ServiceNow" in row.error_message
        assert row.error_message.endswith("no finding was ever created")
    finally:
        h.close()


def test_a_title_changed_after_creation_is_not_propagated_and_never_duplicated(tmp_path):
    h = Harness(tmp_path, config={"findings": {"status_map": STATUS_MAP}})
    try:
        h.run()
        key = a_vendor_issue(h, state="1")
        fid = ledger(h, key).coverbase_id
        h.sn.emu.update(ISSUE, key, {"short_description": "Renamed in ServiceNow"})
        mark = h.mark()
        report = h.run()
        assert h.writes_since(mark) == []
        row = ledger(h, key)
        assert row.status == "ok" and row.coverbase_id == fid
        assert "title changed at the source" in row.error_message and "not propagated" in row.error_message
        flagged = report.entities["findings"].attention["not_propagated"]
        assert [r["key"] for r in flagged] == [key] and "Renamed in ServiceNow" in flagged[0]["detail"]
        meta = push_metadata(report.entities["findings"], dry_run=False)
        assert meta["not_propagated"] == 1 and key in meta["not_propagated_records"].value
        h.sn.emu.update(ISSUE, key, {"state": "3"})  # a later status change still goes through, once
        mark = h.mark()
        h.run()
        assert [(w["method"], w["path"]) for w in h.writes_since(mark)] == [("PATCH", f"/v1/findings/{fid}")]
        assert "not propagated" in ledger(h, key).error_message
        assert sum(1 for f in h.cb_state()["findings"] if issue_of(f) == key) == 1
    finally:
        h.close()


def test_a_cancelled_issue_is_archived_and_restored_when_reopened(tmp_path):
    h = Harness(tmp_path, config={"findings": {"status_map": STATUS_MAP}})
    try:
        h.run()
        key = a_vendor_issue(h, state="1")
        fid = ledger(h, key).coverbase_id
        h.sn.emu.update(ISSUE, key, {"state": "7"})
        h.run()
        row = ledger(h, key)
        assert row.status == "archived" and "state 7 (cancelled) is an archive state" in row.error_message
        assert finding_of(h, key)["is_archived"]
        h.sn.emu.update(ISSUE, key, {"state": "2"})
        mark = h.mark()
        h.run()
        assert [(w["method"], w["path"]) for w in h.writes_since(mark)] == [("PATCH", f"/v1/findings/{fid}")]
        f = finding_of(h, key)
        assert not f["is_archived"] and f["finding_status_id"] == PROGRESS and ledger(h, key).status == "ok"
    finally:
        h.close()


def test_an_issue_of_an_assessment_the_connector_did_not_create_goes_on_the_vendor(synced):
    h, _ = synced
    key = case(h, "issue of an assessment the connector does not create")
    row = ledger(h, key)
    assert row.status == "ok" and "is not one this connector created (skipped" in row.error_message
    f = finding_of(h, key)
    assert f["assessment_id"] is None and f["vendor_id"]


def test_an_issue_of_an_assessment_that_waits_for_its_vendor_waits_too(synced):
    h, _ = synced
    row = ledger(h, case(h, "issue of an assessment that waits for its vendor"))
    assert row.status == "deferred" and row.error_message.startswith("waiting for assessment")


def test_an_issue_of_a_company_that_is_not_a_vendor_is_invalid(synced):
    h, _ = synced
    row = ledger(h, case(h, "issue of a company that is not a vendor"))
    assert row.status == "invalid" and "is not a vendor (core_company.vendor=false)" in row.error_message


def test_an_issue_of_an_assessment_is_a_finding_of_that_assessment(synced):
    h, _ = synced
    exp = expected(h.sn.emu.ds)
    key = next(k for k, v in sorted(exp.findings.items()) if v[1] == "assessment")
    aid = h.state.ledger_row("assessment", "servicenow", exp.findings[key][2]).coverbase_id
    assert finding_of(h, key)["assessment_id"] == aid


def test_another_issue_table_can_be_added_through_the_mapping_file(tmp_path):
    grc_fields = ["sys_id", "number", "short_description", "description", "state", "due_date", "u_third_party",
                  "sys_updated_on"]
    h = Harness(tmp_path, config={
        "source": {"tables": {"issues_grc": {"table": "sn_grc_issue", "filter": "u_third_partyISNOTEMPTY",
                                             "fields": grc_fields}}},
        "findings": {"columns": {"sn_grc_issue": {"vendor": "u_third_party"}}}})
    try:
        h.run()
        grc = h.sn.emu.tables["sn_grc_issue"]
        third_party = {k for k, r in grc.items() if r["u_third_party"]}
        rows = {k: ledger(h, k) for k in grc}
        assert {k for k, r in rows.items() if r is not None} == third_party  # the filter is applied
        assert all(rows[k].status == "ok" for k in third_party)
        vendors = {v["id"]: v["external_id"] for v in h.cb_state()["vendors"]}
        for k in third_party:
            f = finding_of(h, k)
            assert vendors[f["vendor_id"]] == grc[k]["u_third_party"] and "sn_grc_issue" in f["body"]
    finally:
        h.close()


def test_a_mapped_column_that_is_not_read_is_a_configuration_error(tmp_path):
    from connector.errors import ConfigError

    h = Harness(tmp_path, config={"findings": {"columns": {"sn_vdr_risk_asmt_issue": {"vendor": "u_vendor"}}}})
    try:
        with pytest.raises(ConfigError, match="findings.columns.sn_vdr_risk_asmt_issue names column.s. u_vendor, which "
                                                 "source.tables.issues.fields does not read"):
            h.run()
    finally:
        h.close()
