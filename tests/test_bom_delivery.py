"""BOM delivery through real syncs against both emulators: what real generators write is
delivered, schema findings are warnings, only non-BOMs are refused, and Coverbase's parse
verdict comes back into the ledger and the run's metadata."""

import json
import sqlite3

import pytest

from assets.common import push_metadata
from connector.emulators import sn_sboms
from connector.state import StateDB
from connector.state_schema import m001_initial, m002_request_ids
from connector.sync.entities.boms import BomsSync
from tests.bom_files import (
    attach,
    cyclonedx_xml,
    dashless_cyclonedx,
    ledger,
    sorted_keys_spdx,
    spdx_tag_value,
    syft_spdx,
    vendors_in_sync,
)
from tests.conftest import Harness

SETTLE = {"verdict_poll_rounds": 2, "verdict_poll_interval_seconds": 0}  # the emulator decides on the 2nd read


def harness(tmp_path, **boms):
    return Harness(tmp_path, config={"boms": {**SETTLE, **boms}})


def warnings_of(row) -> list[str]:
    return json.loads(row["warnings"] or "[]")


def bom_reads(h, mark: int) -> list[dict]:
    return [e for e in h.cb.emu.log[mark:] if e["method"] == "GET" and "bill_of_materials" in e["path"]]


GENERATED = [
    ("syft-alpine.spdx.json", "application/spdx+json", syft_spdx, "spdx", "SPDX-2.3", 3, "503859Z"),
    ("portal.cdx.json", "application/vnd.cyclonedx+json", dashless_cyclonedx, "cyclonedx", "1.5", 3, "serialNumber"),
    ("inventory-sorted.json", "application/json", sorted_keys_spdx, "spdx", "SPDX-2.3", None, None),
]


@pytest.fixture
def generated(tmp_path):
    h = harness(tmp_path)
    v = vendors_in_sync(h, 3)
    keys = [attach(h, "core_company", v[i], name, make(), ctype) for i, (name, ctype, make, *_) in enumerate(GENERATED)]
    yield h, keys, v
    h.close()


@pytest.mark.timeout(300)
def test_syft_spdx_a_dashless_serial_and_a_sorted_keys_spdx_are_delivered_as_boms(generated):
    h, keys, vendors = generated
    report = h.run()
    rep = report.entities["boms"]
    for key, vendor, (name, _, make, fmt, spec, count, warning) in zip(keys, vendors, GENERATED):
        row = ledger(h, "bom", key)
        assert row["status"] == "ok", f"{name}: {row['error_message']}"
        assert (row["bom_format"], row["bom_spec_version"]) == (fmt, spec)
        assert row["parse_status"] == "parsed" and row["parsed_component_count"] == row["component_count"]
        bom = h.cb_client.get_bom(row["coverbase_id"])
        assert bom.vendor_id == ledger(h, "vendor", vendor)["coverbase_id"] and bom.format == fmt
        if count is not None:
            assert bom.component_count == count
        if warning:  # the libraries' finding is kept per record and shown in the run's metadata
            assert any(warning in w for w in warnings_of(row)), warnings_of(row)
            assert any(p.key == key and warning in p.reason for p in rep.warnings)
        assert ledger(h, "document", key) is None
    md = push_metadata(rep, dry_run=False)
    assert keys[0] in md["warnings"].value and "503859Z" in md["warnings"].value


@pytest.mark.timeout(300)
def test_strict_validation_refuses_schema_findings_and_lenient_delivers_them_on_the_next_run(tmp_path):
    h = harness(tmp_path, validation="strict")
    try:
        v = vendors_in_sync(h, 2)
        syft = attach(h, "core_company", v[0], "syft.spdx.json", syft_spdx(), "application/json")
        dashless = attach(h, "core_company", v[1], "bom.json", dashless_cyclonedx(), "application/json")
        broken = next(c.sys_id for c in h.sn.emu.ds.dirty if c.entity == "bom" and "schema" in c.what)
        h.run()
        for key in (syft, dashless, broken):
            row = ledger(h, "bom", key)
            assert row["status"] == "invalid" and "boms.validation is strict" in row["error_message"]
        clean = [r for r in h.state.db.query("SELECT * FROM ledger WHERE entity='bom' AND status='ok'")]
        assert clean  # the dataset's clean SBOMs pass strict validation
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []  # same bytes, same rules: not judged again
        h.engine.cfg = h.cfg = h.cfg.model_copy(
            update={"boms": h.cfg.boms.model_copy(update={"validation": "lenient"})})
        h.engine.source.cfg = h.cfg
        h.run()
        for key in (syft, dashless, broken):
            assert ledger(h, "bom", key)["status"] == "ok"  # new rules: judged again, delivered
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_cyclonedx_xml_and_spdx_tag_value_are_delivered_and_coverbase_answers_unsupported(tmp_path):
    h = harness(tmp_path)
    try:
        v = vendors_in_sync(h, 2)
        xml = attach(h, "core_company", v[0], "bom.xml", cyclonedx_xml(components=4), "application/xml")
        tv = attach(h, "core_company", v[1], "hello.spdx", spdx_tag_value(packages=2), "text/plain")
        report = h.run()
        for key, fmt, ext, count in ((xml, "cyclonedx", "xml", 4), (tv, "spdx", "spdx", 2)):
            row = ledger(h, "bom", key)
            assert row["status"] == "ok" and row["bom_format"] == fmt and row["component_count"] == count
            assert row["parse_status"] == "unsupported" and row["parsed_component_count"] is None
            assert any("does not parse this format" in w for w in warnings_of(row))
            assert h.cb_client.get_bom(row["coverbase_id"]).document.extension == ext
        assert report.entities["boms"].notes["coverbase_parse_status_unsupported"] == 2
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_a_truncated_bom_is_invalid_with_the_parser_message_and_not_downloaded_again(tmp_path):
    h = harness(tmp_path)
    try:
        v = vendors_in_sync(h, 1)
        raw = dashless_cyclonedx(components=50)
        key = attach(h, "core_company", v[0], "cut.cdx.json", raw[: len(raw) // 2], "application/json")
        report = h.run()
        row = ledger(h, "bom", key)
        assert row["status"] == "invalid" and "the JSON document ends early (truncated" in row["error_message"]
        assert any(p.key == key for p in report.entities["boms"].problems)
        mark = len(h.sn.emu.log)
        h.run()
        assert not [e for e in h.sn.emu.log[mark:] if key in e.get("path", "")]
        assert ledger(h, "bom", key)["status"] == "invalid"
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_the_verdict_is_read_on_a_later_run_when_the_run_does_not_poll(tmp_path):
    h = harness(tmp_path, verdict_poll_rounds=0)
    try:
        h.run()
        rows = list(h.state.db.query("SELECT * FROM ledger WHERE entity='bom' AND status='ok'"))
        assert rows and {r["parse_status"] for r in rows} == {"pending"}
        h.run()  # one read: Coverbase is still parsing
        assert {r["parse_status"]
                for r in h.state.db.query("SELECT * FROM ledger WHERE entity='bom' AND status='ok'")} \
            == {"parsing"}
        mark = h.mark()
        h.run()
        settled = {r["source_key"]: r["parse_status"] for r in
                   h.state.db.query("SELECT * FROM ledger WHERE entity='bom' AND status='ok'")}
        assert set(settled.values()) <= {"parsed", "failed"} and "parsed" in settled.values()
        vendors = {r["parent_id"] for r in rows}
        assert len(bom_reads(h, mark)) == len(vendors)  # one history read per vendor, no component payloads
        mark = h.mark()
        h.run()
        assert bom_reads(h, mark) == [] and h.writes_since(mark) == []  # settled: never read again
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_the_poll_after_upload_is_bounded_and_waits_between_rounds(tmp_path, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(BomsSync, "sleep", staticmethod(slept.append))
    h = harness(tmp_path, verdict_poll_rounds=3, verdict_poll_interval_seconds=0.25)
    try:
        h.cb.emu.store.bom_parse_reads = 10  # Coverbase takes its time
        h.run()
        assert slept == [0.25, 0.25]  # three rounds, two pauses, then the run moves on
        assert {r["parse_status"] for r in h.state.db.query("SELECT * FROM ledger WHERE entity='bom' AND "
                                                             "status='ok'")} == {"parsing"}
        h.cb.emu.store.bom_parse_reads = 0
        slept.clear()
        h.run()
        assert slept == []  # earlier uploads are read once per run, never waited for
        assert "pending" not in {r["parse_status"] for r in h.state.db.query("SELECT * FROM ledger WHERE entity='bom'")}
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_a_failed_parse_is_reported_and_kept_not_retried_and_a_new_version_is_uploaded(harness_settled):
    h = harness_settled
    case = next(c for c in h.sn.emu.ds.dirty if c.entity == "bom" and "schema" in c.what)
    report = h.run()
    row = ledger(h, "bom", case.sys_id)
    assert row["status"] == "ok" and row["parse_status"] == "failed" and "without a name" in row["parse_error"]
    assert any("Coverbase could not parse it" in p.reason
               for p in report.entities["boms"].warnings if p.key == case.sys_id)
    first = row["coverbase_id"]
    mark = h.mark()
    h.run()
    assert h.writes_since(mark) == []  # reported, not re-uploaded
    fixed = sn_sboms.cyclonedx(__import__("random").Random(5), "fixed", "Vendor")
    h.sn.emu.blobs[case.sys_id].content = fixed
    import hashlib

    h.sn.emu.update("sys_attachment", case.sys_id, {"size_bytes": str(len(fixed)),
                                                    "hash": hashlib.sha256(fixed).hexdigest()})
    h.run()
    row = ledger(h, "bom", case.sys_id)
    assert row["coverbase_id"] != first and row["parse_status"] == "parsed" and row["parse_error"] is None
    assert row["warnings"] is None  # the new version is clean


@pytest.fixture
def harness_settled(tmp_path):
    h = harness(tmp_path)
    yield h
    h.close()


@pytest.mark.timeout(300)
def test_a_component_count_coverbase_disagrees_with_is_a_warning(tmp_path):
    h = harness(tmp_path, verdict_poll_rounds=0)
    try:
        v = vendors_in_sync(h, 1)
        key = attach(h, "core_company", v[0], "portal.cdx.json", dashless_cyclonedx(components=7), "application/json")
        h.run()
        store = h.cb.emu.store
        store.bom_parse_reads = 0
        row = ledger(h, "bom", key)
        b = store.boms[row["coverbase_id"]]
        with store.lock:
            store.bom_view(b, with_components=False)  # Coverbase finishes parsing ...
            b["component_count"] = 6  # ... and counts differently (say it dropped a duplicate)
        report = h.run()
        row = ledger(h, "bom", key)
        assert row["component_count"] == 7 and row["parsed_component_count"] == 6
        text = "component count differs: Coverbase parsed 6, the file has 7"
        assert any(text in w for w in warnings_of(row))
        assert text in push_metadata(report.entities["boms"], dry_run=False)["warnings"].value
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_above_the_size_limit_validation_is_skipped_with_a_note_and_the_bom_still_goes(tmp_path):
    h = harness(tmp_path, validation_max_bytes=32 * 1024)
    try:
        v = vendors_in_sync(h, 1)
        key = attach(h, "core_company", v[0], "big.spdx.json", sorted_keys_spdx(), "application/json")
        h.run()
        row = ledger(h, "bom", key)
        assert row["status"] == "ok" and row["parse_status"] == "parsed"
        assert any("schema validation skipped" in w for w in warnings_of(row))
        assert row["component_count"] == row["parsed_component_count"] > 100
    finally:
        h.close()


@pytest.mark.timeout(300)
def test_a_dry_run_downloads_and_reads_boms_so_refusals_and_warnings_show_without_a_write(tmp_path):
    h = harness(tmp_path)
    try:
        v = vendors_in_sync(h, 2)
        good = attach(h, "core_company", v[0], "syft.spdx.json", syft_spdx(), "application/json")
        raw = dashless_cyclonedx(components=40)
        cut = attach(h, "core_company", v[1], "cut.json", raw[:200], "application/json")
        report = h.run(dry_run=True)
        rep = report.entities["boms"]
        assert h.writes_since(0) == [] and list(h.state.db.query("SELECT * FROM ledger WHERE entity='bom'")) == []
        assert any(p.key == cut and "ends early" in p.reason and p.outcome == "invalid" for p in rep.problems)
        assert any(p.key == good and "503859Z" in p.reason for p in rep.warnings)
        assert rep.outcomes["created"] >= 1
    finally:
        h.close()


def test_migration_3_adds_the_columns_and_reclassifies_attachments_sniffed_by_the_old_rules(tmp_path):
    path = tmp_path / "old.db"
    import sqlite_utils

    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    m001_initial(db)
    m002_request_ids(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    for key, kind in (("a1", "document"), ("a2", "bom")):
        db.execute("INSERT INTO staging (stream, source, key, record, kind, kind_version, extracted_at) "
                   "VALUES ('attachments', 'servicenow', ?, '{}', ?, 'v1', 'now')", [key, kind])
    db.conn.commit()
    db.conn.close()
    state = StateDB(path)
    assert state.version >= 3
    kinds = {r.key: (r.kind, r.kind_version) for r in state.staged("attachments", "servicenow")}
    assert kinds == {"a1": ("document", None), "a2": ("bom", "v1")}  # documents are probed again, once
    cols = {r[1] for r in state.db.execute("PRAGMA table_info(ledger)")}
    assert {"original_name", "repairs", "warnings", "bom_format", "component_count", "parse_status", "parse_error",
            "parsed_component_count"} <= cols
    state.close()


@pytest.mark.timeout(300)
def test_the_push_assets_show_warnings_and_repairs_in_their_dagster_metadata(tmp_path):
    import dagster as dg

    from assets.definitions import build_definitions
    from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
    from connector.emulators import fixtures as fx
    from tests.conftest import start_coverbase, start_servicenow

    cb, sn = start_coverbase(), start_servicenow()
    try:
        resources = {"coverbase": CoverbaseResource(api_url=cb.url, api_key=cb.api_key),
                     "servicenow": ServiceNowResource(instance_url=sn.url, username=fx.DEMO_SN_USER,
                                                      password=fx.DEMO_SN_PASSWORD),
                     "ledger": LedgerResource(state_db=str(tmp_path / "state.db")),
                     "sync_options": SyncOptionsResource()}
        result = build_definitions(resources).resolve_job_def("sync_all").execute_in_process(
            instance=dg.DagsterInstance.ephemeral())
        assert result.success
        meta = {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
                for e in result.get_asset_materialization_events()}
        broken = next(c.sys_id for c in sn.emu.ds.dirty if c.entity == "bom" and "schema" in c.what)
        assert broken in meta["coverbase_boms"]["warnings"] and "schema:" in meta["coverbase_boms"]["warnings"]
        assert "'../../etc/passwd.pdf' sent as 'passwd.pdf'" in meta["coverbase_documents"]["repairs"]
        assert "named after its number" in meta["coverbase_services"]["repairs"]
    finally:
        cb.server.stop()
        sn.server.stop()


@pytest.mark.timeout(300)
def test_a_document_re_uploaded_as_an_sbom_becomes_a_bom_and_the_document_is_archived(tmp_path):
    import hashlib

    h = harness(tmp_path)
    try:
        v = vendors_in_sync(h, 1)[0]
        key = attach(h, "core_company", v, "inventory.txt", b"list of software, to follow\n", "text/plain")
        h.run()
        doc = ledger(h, "document", key)
        assert doc["status"] == "ok"
        sbom = dashless_cyclonedx(components=4)
        h.sn.emu.blobs[key].content = sbom
        h.sn.emu.update("sys_attachment", key, {"size_bytes": str(len(sbom)), "hash": hashlib.sha256(sbom).hexdigest()})
        h.run()
        assert ledger(h, "bom", key)["status"] == "ok"
        doc = ledger(h, "document", key)
        assert doc["status"] == "archived" and "its content is now a bill of materials" in doc["error_message"]
        assert [d["is_archived"] for d in h.cb_state()["documents"] if d["id"] == doc["coverbase_id"]] == [True]
        mark = h.mark()
        h.run()
        assert h.writes_since(mark) == []
    finally:
        h.close()
