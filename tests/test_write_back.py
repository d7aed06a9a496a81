"""Write-back end to end: assessments created by a sync complete in Coverbase, and their outcomes come
back into ServiceNow as work notes and mapped fields, against both emulators over real HTTP."""

import pytest

from connector.errors import ConfigError
from connector.servicenow.writer import WRITE_ROLE
from tests.write_back_support import ASMT, FIELDS, WriteBackHarness, assert_one_note_per_change, config, record_changes


@pytest.fixture
def h(tmp_path):
    harness = WriteBackHarness(tmp_path)
    harness.run()  # sync: assessments created in Coverbase
    yield harness
    harness.close()


@pytest.mark.timeout(180)
def test_outcomes_are_written_once_per_change_and_a_second_run_writes_nothing(h):
    ours = h.ours()
    assert len(ours) >= 10
    expected: dict = {}
    record_changes(h, expected)
    first = h.write_back()
    assert first.counts()["written"] == len(ours) and first.notes_written == len(ours)
    h.advance(10 * 3600)  # every assessment reaches complete (or failed) in Coverbase
    record_changes(h, expected)
    done = [cid for cid in ours.values() if h.cb.emu.store.assessments[cid]["status"] == "complete"]
    assert done, "assessments created by the sync complete in Coverbase"
    second = h.write_back()
    assert second.counts()["written"] == len(ours) and second.counts()["rejected"] == 0
    assert_one_note_per_change(h, expected)
    for sys_id, cid in ours.items():
        a, row = h.cb.emu.store.assessments[cid], h.record(sys_id)
        assert row["u_coverbase_status"] == a["status"]
        assert row["u_coverbase_findings"] == str(a["findings_count"])
        if a["status"] == "complete":
            assert float(row["u_coverbase_score"]) == pytest.approx(a["score_percent"] * 100, abs=0.05)
            assert row["state"] == "finalizing"  # through the explicit value map only
        assert row["sys_updated_by"] == "integration.user"
    mark, journal = len(h.sn.emu.log), len(h.sn.emu.tables["sys_journal_field"])
    third = h.write_back()
    assert third.counts()["unchanged"] == len(ours) and third.notes_written == 0
    assert h.sn_writes_since(mark) == [] and len(h.sn.emu.tables["sys_journal_field"]) == journal
    changelog = list(h.state.db.query("SELECT operation, status FROM changelog WHERE entity = 'assessment_outcome'"))
    assert len(changelog) == 2 * len(ours) and {c["status"] for c in changelog} == {"ok"}


@pytest.mark.timeout(180)
def test_a_human_edit_of_a_mapped_field_is_left_alone_and_reported_as_a_conflict(h):
    h.write_back()
    sys_id = sorted(h.ours())[0]
    h.sn.emu.update(ASMT, sys_id, {"u_coverbase_status": "escalated by risk team"})  # a person edits the field
    h.advance(10 * 3600)
    rep = h.write_back()
    assert h.record(sys_id)["u_coverbase_status"] == "escalated by risk team"
    assert [c.key for c in rep.conflicts] == [sys_id] and "escalated by risk team" in rep.conflicts[0].text
    assert "u_coverbase_status" in rep.conflicts[0].text
    cid = h.ours()[sys_id]
    assert h.record(sys_id)["u_coverbase_findings"] == str(h.cb.emu.store.assessments[cid]["findings_count"])
    assert len(h.notes(sys_id)) == 2  # the note is still written
    row = h.state.ledger_row("assessment_outcome", "servicenow", sys_id)
    assert row.status == "ok" and "changed in ServiceNow" in row.error_message


@pytest.mark.timeout(180)
def test_a_field_silently_dropped_by_servicenow_is_detected_by_the_read_back(h):
    h.sn.emu.writes.set_settings({"protected_fields": [f"{ASMT}.u_coverbase_findings"]})
    h.advance(10 * 3600)
    rep = h.write_back()
    ours = h.ours()
    assert rep.dropped_count == len(ours)  # every record was sent a findings count ("0" included)
    assert all("u_coverbase_findings" in d.text and "silently dropped" in d.text for d in rep.dropped)
    assert all(h.record(k).get("u_coverbase_findings", "") == "" for k in ours)
    assert all(h.record(k)["u_coverbase_status"] for k in ours)  # the other fields were stored
    assert rep.counts()["written"] == len(h.ours())  # the note and the other fields did land
    mark = len(h.sn.emu.log)
    assert h.write_back().notes_written == 0 and h.sn_writes_since(mark) == []  # not re-sent while unchanged


@pytest.mark.timeout(180)
def test_a_403_is_the_records_outcome_naming_the_role_and_the_run_goes_on(h):
    refused = sorted(h.ours())[:2]
    h.sn.emu.writes.set_settings({"roles": {"integration.user": []}})
    rep = h.write_back(keys=refused)
    assert rep.counts()["rejected"] == 2 and rep.fatal is None
    assert all(WRITE_ROLE in p.text for p in rep.problems)
    h.sn.emu.writes.set_settings({"roles": {}})
    rep = h.write_back()
    assert rep.counts()["written"] == len(h.ours()) - 2 and rep.counts()["rejected"] == 2  # not resent unchanged
    assert h.write_back(retry_rejected=True).counts()["written"] == 2  # after the role is granted
    assert all(len(h.notes(k)) == 1 for k in h.ours())


@pytest.mark.timeout(180)
def test_a_record_the_write_user_cannot_read_is_a_404_outcome(h):
    hidden = sorted(h.ours())[0]
    h.sn.emu.writes.set_settings({"hidden_records": [hidden]})
    rep = h.write_back()
    assert rep.counts()["rejected"] == 1 and "not found" in rep.problems[0].text
    assert rep.counts()["written"] == len(h.ours()) - 1


@pytest.mark.timeout(180)
def test_separate_write_credentials_do_the_writes(tmp_path):
    h = WriteBackHarness(tmp_path, write_user=("coverbase.writer", "writer-password-0123"))
    try:
        h.sn.emu.writes.users["coverbase.writer"] = "writer-password-0123"
        h.sn.emu.writes.set_settings({"roles": {"integration.user": [], "coverbase.writer": [WRITE_ROLE]}})
        h.run()
        rep = h.write_back()
        assert rep.counts()["written"] == len(h.ours())
        entries = list(h.sn.emu.tables["sys_journal_field"].values())
        assert entries and {e["sys_created_by"] for e in entries} == {"coverbase.writer"}
    finally:
        h.close()


@pytest.mark.timeout(180)
def test_a_dry_run_reads_and_plans_but_writes_nothing(h):
    mark = len(h.sn.emu.log)
    rep = h.write_back(dry_run=True)
    assert rep.planned["note"] == len(h.ours()) and rep.notes_written == 0
    assert h.sn_writes_since(mark) == [] and not h.sn.emu.tables.get("sys_journal_field")
    assert not list(h.state.db.query("SELECT 1 FROM ledger WHERE entity = 'assessment_outcome'"))


@pytest.mark.timeout(180)
def test_a_misspelt_mapped_column_fails_the_start_up_validation(tmp_path):
    h = WriteBackHarness(tmp_path, config_=config(fields={**FIELDS, "score": "u_coverbase_scroe"}))
    try:
        h.run()
        mark = len(h.sn.emu.log)
        message = r"u_coverbase_scroe does not exist \(did you mean 'u_coverbase_score'\?\)"
        with pytest.raises(ConfigError, match=message):
            h.write_back()
        assert h.sn_writes_since(mark) == []
    finally:
        h.close()


@pytest.mark.timeout(180)
def test_write_back_is_off_by_default(tmp_path):
    h = WriteBackHarness(tmp_path, config_={})
    try:
        h.run()
        mark = len(h.sn.emu.log)
        rep = h.write_back()
        assert rep.counts()["skipped"] == 1 and rep.notes_written == 0
        assert h.sn.emu.log[mark:] == []  # not even a read
    finally:
        h.close()


@pytest.mark.timeout(180)
def test_an_update_landing_around_the_write_is_reported(h):
    h.write_back()
    h.sn.emu.writes.set_settings({"after_write_rule": {"risk_rating": "moderate"}})  # a business rule
    h.advance(10 * 3600)
    rep = h.write_back()
    assert rep.conflict_count == len(h.ours())
    assert all("sys_mod_count went from" in c.text for c in rep.conflicts)


@pytest.mark.timeout(180)
def test_a_write_in_doubt_is_verified_in_the_journal_after_it_settles_never_sent_twice(h):
    h.cfg.write_back.settle_seconds = 3600
    h.sn.emu.writes.set_settings({"rate_ambiguous": 1.0, "ambiguous_mode": "status"})  # stored, then a 504
    first = h.write_back()
    ours = h.ours()
    assert first.counts()["transient"] == len(ours) and all(len(h.notes(k)) == 1 for k in ours)
    h.sn.emu.writes.set_settings({"rate_ambiguous": 0.0})
    mark = len(h.sn.emu.log)
    second = h.write_back()  # too early to tell: nothing is sent again
    assert second.counts()["deferred"] == len(ours) and h.sn_writes_since(mark) == []
    h.cfg.write_back.settle_seconds = 0
    third = h.write_back()
    assert third.recovered == len(ours) and third.notes_written == 0 and h.sn_writes_since(mark) == []
    assert all(len(h.notes(k)) == 1 for k in ours)
    rows = list(h.state.db.query("SELECT status FROM ledger WHERE entity = 'assessment_outcome'"))
    assert {r["status"] for r in rows} == {"ok"}
