"""The bad-input corpus: every dirty record of the dataset, and every bad environment, has a test
asserting the outcome and the message a user sees. docs/bad-input.md lists them."""

import httpx
import pytest

from connector.config import load_config
from connector.emulators import sn_dataset
from connector.errors import ConfigError, FatalSyncError
from tests.conftest import Harness

DIRTY = [c for c in sn_dataset.build("small").dirty]


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("dirty"))
    report = h.run()
    ledger = {(r["entity"], r["source_key"]): r for r in h.state.db.query("SELECT * FROM ledger")}
    problems = {p.key: p for rep in report.entities.values() for p in rep.problems}
    yield h, ledger, problems
    h.close()


@pytest.mark.parametrize("case", DIRTY, ids=[f"{c.code}-{c.what[:40]}" for c in DIRTY])
def test_dirty_record(synced, case):
    h, ledger, problems = synced
    if case.sys_id == "*":  # hundreds of rows sharing one timestamp: all read, none twice
        rows = [r for r in h.sn.emu.tables["core_company"].values() if r["sys_updated_on"] == sn_dataset.BULK_TS]
        assert len(rows) >= 5
        staged = h.state.staged_keys("vendors", "servicenow")
        assert {r["sys_id"] for r in rows if r["vendor"] == "true"} <= staged
        return
    row = ledger.get((case.entity, case.sys_id))
    if case.status == "absent":
        assert row is None
        return
    assert row is not None, f"{case.what}: no ledger row"
    assert row["status"] == case.status, f"{case.what}: {row['status']} ({row['error_message']})"
    assert case.reason in (row["error_message"] or ""), row["error_message"]
    if case.status in ("invalid", "rejected", "deferred"):
        assert case.reason in problems[case.sys_id].reason  # the same message is in the run report


# --- malformed configuration files --------------------------------------------------------------

BAD_CONFIGS = [
    ("not YAML", "sync: [1, 2\n", "not valid YAML at line"),
    ("not a mapping", "- just\n- a list\n", "the top level must be a mapping"),
    ("unknown section", "vendorz: {}\n", "vendorz: unknown key"),
    ("unknown key", "sync:\n  concurency: 4\n", "sync.concurency: unknown key"),
    ("wrong type", "sync:\n  concurrency: lots\n", "sync.concurrency"),
    ("out of range", "sync:\n  concurrency: 0\n", "greater than or equal to 1"),
    ("status id of the wrong kind", "vendors:\n  status_map: {active: Active}\n", "cbst_"),
    ("finding status id of the wrong kind", "findings:\n  status_map: {'1': Open}\n", "finding status ids (cbst_"),
    ("unknown issue field in findings.columns", "findings:\n  columns: {sn_grc_issue: {vendr: u_x}}\n",
     "unknown issue field(s) ['vendr']"),
    ("table without cursor fields", "source:\n  tables:\n    vendors: {table: core_company, fields: [sys_id, name]}\n",
     "sys_updated_on"),
    ("binary file", b"\xff\xfe\x00garbage", "not UTF-8"),
    ("unknown BOM validation mode", "boms:\n  validation: strcit\n",
     "boms.validation: Input should be 'strict' or 'lenient'"),
]


@pytest.mark.parametrize("name,content,message", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_malformed_config_file(tmp_path, name, content, message):
    p = tmp_path / "mapping.yaml"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert message in str(exc.value) and str(p) in str(exc.value)


def test_config_naming_a_missing_table_fails_the_check(tmp_path):
    h = Harness(tmp_path, config={"source": {"tables": {"contacts": {"table": "vm_dr_contact", "fields": [
        "sys_id", "company", "email", "primary_contact", "sys_updated_on"]}}}})
    try:
        with pytest.raises(ConfigError, match="table 'vm_dr_contact' does not exist"):
            h.run()
        assert h.writes_since(0) == []
    finally:
        h.close()


# --- a bad environment -------------------------------------------------------------------------


def test_servicenow_answering_html_stops_the_run_with_a_clear_message(harness):
    harness.sn.emu.set_faults({"html_always": True})
    with pytest.raises(FatalSyncError, match="answered HTML instead of JSON: is the instance hibernating"):
        harness.run()
    assert harness.writes_since(0) == []


def test_an_expired_oauth_token_is_refreshed_and_the_run_goes_on(tmp_path):
    h = Harness(tmp_path)
    try:
        h.engine.source.client = h.sn.oauth_client(username="integration.user", password="demo-password-not-secret")
        h.engine.source.reader.client = h.engine.source.client
        h.run(entities=["users"])
        httpx.post(f"{h.sn.url}/_emulator/tokens/expire")
        report = h.run()
        assert report.fatal is None and report.entities["vendors"].outcomes["created"] > 0
    finally:
        h.close()


def test_servicenow_credentials_rotated_away_fail_fast(harness):
    httpx.post(f"{harness.sn.url}/_emulator/credentials", json={"password": "rotated"})
    with pytest.raises(FatalSyncError, match="ServiceNow rejected the credentials"):
        harness.run()


def test_a_coverbase_key_revoked_mid_run_stops_the_run_and_loses_nothing(harness):
    harness.run(entities=["users", "vendors"])
    httpx.post(f"{harness.cb.url}/_emulator/api_keys", json={"revoke": harness.cb.api_key})
    with pytest.raises(Exception) as exc:
        harness.run()
    assert "Invalid or expired API key" in str(exc.value) or "COVERBASE_API_KEY" in str(exc.value)
    httpx.post(f"{harness.cb.url}/_emulator/api_keys", json={"add": harness.cb.api_key})
    report = harness.run()
    assert report.entities["services"].outcomes["created"] > 0
    mark = harness.mark()
    harness.run()
    assert harness.writes_since(mark) == []


def test_a_key_revoked_between_entities_fails_the_push_with_the_reason(harness):
    from connector.sync.engine import PushOptions

    harness.run(entities=["users", "vendors"])
    httpx.post(f"{harness.cb.url}/_emulator/api_keys", json={"revoke": harness.cb.api_key})
    with pytest.raises(Exception) as exc:
        harness.engine.push("services", run_id="r2", options=PushOptions())
    assert "401" in str(exc.value) and "Invalid or expired API key" in str(exc.value)
    services = harness.state.counts().get("service", {})
    assert services.get("ok", 0) == 0  # nothing claimed synced that was not


def test_a_vendor_deleted_in_coverbase_by_hand_is_recreated_and_reported(harness):
    harness.run()
    vid = next(r["source_key"]
               for r in harness.state.db.query("SELECT * FROM ledger WHERE entity='vendor' AND status='ok'"))
    old = harness.state.ledger_row("vendor", "servicenow", vid).coverbase_id
    httpx.delete(f"{harness.cb.url}/_emulator/vendors/{old}")
    harness.sn.emu.update("core_company", vid, {"website": "https://changed.example"})
    report = harness.run()
    row = harness.state.ledger_row("vendor", "servicenow", vid)
    assert (row.coverbase_id != old
            and f"vendor {old} no longer exists in Coverbase (deleted by hand?)" in row.error_message)
    assert report.entities["vendors"].outcomes["created"] == 1


def test_a_vendor_deleted_by_hand_is_flagged_by_the_drift_check(harness, tmp_path):
    import dagster as dg

    from assets.checks import vendor_drift
    from assets.resources import CoverbaseResource, LedgerResource

    harness.run()
    old = next(r["coverbase_id"]
               for r in harness.state.db.query("SELECT * FROM ledger WHERE entity='vendor' AND status='ok'"))
    httpx.delete(f"{harness.cb.url}/_emulator/vendors/{old}")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("thresholds:\n  drift_sample: 1000\n")  # every vendor, so the deleted one is read back
    result = vendor_drift(dg.build_asset_check_context(), coverbase=CoverbaseResource(api_url=harness.cb.url,
                                                                                      api_key=harness.cb.api_key),
                          ledger=LedgerResource(state_db=str(harness.state_path), config_path=str(mapping)))
    assert not result.passed and "deleted in Coverbase" in result.metadata["details"].value
