"""Keyset reader: every record exactly once under inserts, updates, ties, short pages and cancels."""

import io

import pytest

from connector.errors import ConfigError
from connector.servicenow.attachments import download
from connector.servicenow.errors import ServiceNowIntegrityError
from connector.servicenow.reader import Cursor, ReadStats, TableReader, incremental_since, keyset_query
from connector.servicenow.schema import fields_in_query, validate_tables

FIELDS = ["sys_id", "name", "sys_updated_on"]


def vendor_ids(servicenow):
    return {sid for sid, r in servicenow.emu.tables["core_company"].items() if r["vendor"] == "true"}


def read_all(reader, table, **kw):
    return [r for page in reader.read(table, kw.pop("fields", FIELDS), **kw) for r in page.records]


def test_keyset_query_form():
    q = keyset_query("vendor=true", since="2026-10-01 00:00:00", until=None, after=Cursor("2026-10-05 12:00:00", "abc"))
    assert q == ("vendor=true^sys_updated_on>=2026-10-01 00:00:00^sys_updated_on>2026-10-05 12:00:00^NQ"
                 "vendor=true^sys_updated_on>=2026-10-01 00:00:00^sys_updated_on=2026-10-05 12:00:00^sys_id>abc"
                 "^ORDERBYsys_updated_on^ORDERBYsys_id")


def test_reads_every_vendor_exactly_once_with_small_pages(servicenow, sn):
    rows = read_all(TableReader(sn, page_size=4), "core_company", base_query="vendor=true")
    assert len(rows) == len({r["sys_id"] for r in rows}) and {r["sys_id"] for r in rows} == vendor_ids(servicenow)


def test_requests_raw_values_and_only_needed_fields(servicenow, sn):
    read_all(TableReader(sn, page_size=100), "core_company", base_query="vendor=true")
    q = servicenow.emu.log[0]["query"]
    assert q["sysparm_display_value"] == "false" and q["sysparm_exclude_reference_link"] == "true"
    assert q["sysparm_no_count"] == "true" and q["sysparm_fields"] == "name,sys_id,sys_updated_on"


def test_hundreds_sharing_one_second_are_walked_by_sys_id(servicenow, sn):
    for i in range(300):
        servicenow.emu.insert("cmn_department", {"name": f"Dept {i}", "sys_updated_on": "2026-10-09 09:09:09"})
    rows = read_all(TableReader(sn, page_size=7), "cmn_department", fields=["sys_id", "name", "sys_updated_on"])
    assert len(rows) == 305 and len({r["sys_id"] for r in rows}) == 305


def test_inserts_and_updates_between_pages_lose_nothing_and_duplicate_nothing(servicenow, sn):
    emu = servicenow.emu
    expected = vendor_ids(servicenow)
    reader = TableReader(sn, page_size=5)
    seen, updated_behind, inserted = [], [], []
    stats = ReadStats()
    for n, page in enumerate(reader.read("core_company", FIELDS, base_query="vendor=true", stats=stats)):
        seen += page.records
        if n < 3:
            behind = page.records[0]["sys_id"]  # already read: its update moves it past the cursor
            emu.update("core_company", behind, {"name": f"Updated {n}"})
            updated_behind.append(behind)
            ahead = sorted(expected - {r["sys_id"] for r in seen})[0]  # not read yet
            emu.update("core_company", ahead, {"notes": "touched"})
            inserted.append(emu.insert("core_company", {"name": f"New {n}", "vendor": "true"})["sys_id"])
    ids = [r["sys_id"] for r in seen]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected | set(inserted)
    # The next incremental read returns the versions updated behind the cursor.
    since = incremental_since(stats.last_cursor, stats.server_started_at, lag_seconds=5)
    again = {r["sys_id"]: r for r in read_all(reader, "core_company", base_query="vendor=true", since=since)}
    assert all(again[sid]["name"].startswith("Updated") for sid in updated_behind)


def test_page_size_is_halved_on_quota_cancel_and_restored(servicenow, sn):
    servicenow.emu.set_faults({"quota_budget": 24, "quota_mode": "truncated"})
    stats = ReadStats()
    reader = TableReader(sn, page_size=32, min_page_size=2, restore_after=2)
    rows = read_all(reader, "core_company", base_query="vendor=true", stats=stats)
    assert {r["sys_id"] for r in rows} == vendor_ids(servicenow)
    assert stats.page_size_halvings >= 2
    limits = [int(e["query"]["sysparm_limit"]) for e in servicenow.emu.log]
    assert limits[:3] == [32, 16, 8]  # halved until the instance stops cancelling
    assert any(b > a for a, b in zip(limits, limits[1:]))  # and grown back after good pages


def test_page_size_halves_on_a_500_cancel_too(servicenow, sn):
    servicenow.emu.set_faults({"quota_budget": 40, "quota_mode": "500"})
    rows = read_all(TableReader(sn, page_size=64, min_page_size=2), "core_company", base_query="vendor=true")
    assert len(rows) == len(vendor_ids(servicenow))


def test_short_pages_from_row_acls_do_not_stop_the_read(servicenow, sn):
    servicenow.emu.set_faults({"acl_hide_rate": 0.3})
    rows = read_all(TableReader(sn, page_size=6), "sys_user", fields=["sys_id", "sys_updated_on"])
    visible = servicenow.emu.tables["sys_user"].keys() | servicenow.emu.tables["vm_vdr_contact"].keys()
    import hashlib

    visible = {s for s in visible if int(hashlib.md5(s.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF >= 0.3}
    assert {r["sys_id"] for r in rows} == visible


def test_reader_converges_under_mixed_faults(servicenow, sn):
    servicenow.emu.set_faults({"rate_429": 0.05, "retry_after": 0.001, "rate_truncated": 0.1, "rate_500": 0.05,
                               "rate_202": 0.05, "rate_null": 0.05, "rate_5xx": 0.05, "seed": 9})
    rows = read_all(TableReader(sn, page_size=3, min_page_size=3), "core_company", base_query="vendor=true")
    assert {r["sys_id"] for r in rows} == vendor_ids(servicenow) and len(rows) == len(vendor_ids(servicenow))


def test_incremental_read_uses_the_watermark_minus_lag(servicenow, sn):
    reader = TableReader(sn, page_size=50)
    stats = ReadStats()
    read_all(reader, "core_company", base_query="vendor=true", stats=stats)
    vid = next(iter(vendor_ids(servicenow)))
    servicenow.emu.update("core_company", vid, {"name": "Changed"})
    since = incremental_since(stats.last_cursor, stats.server_started_at, lag_seconds=60)
    rows = read_all(reader, "core_company", base_query="vendor=true", since=since)
    assert [r["sys_id"] for r in rows if r["name"] == "Changed"] == [vid]
    assert len(rows) < len(vendor_ids(servicenow))


def test_a_filter_with_nq_is_refused(sn):
    with pytest.raises(ConfigError):
        read_all(TableReader(sn), "core_company", base_query="vendor=true^NQvendor=false")


def test_list_ids_sweeps_every_sys_id(servicenow, sn):
    ids = TableReader(sn, page_size=10).list_ids("core_company", base_query="vendor=true")
    assert ids == vendor_ids(servicenow)


def test_attachment_listing_by_table_with_keyset(servicenow, sn):
    rows = read_all(TableReader(sn, page_size=5), "sys_attachment", fields=None, attachments=True,
                    base_query="table_name=core_company")
    expected = {s for s, r in servicenow.emu.tables["sys_attachment"].items() if r["table_name"] == "core_company"}
    assert {r["sys_id"] for r in rows} == expected


def test_download_streams_and_checks_the_hash(servicenow, sn):
    row = next(r for r in servicenow.emu.tables["sys_attachment"].values()
               if r["hash"] and r["file_name"].endswith(".pdf") and not r["file_name"].startswith("corrupt"))
    buf = io.BytesIO()
    got = download(sn, row["sys_id"], buf, expected_sha256=row["hash"], expected_size=int(row["size_bytes"]))
    assert got.sha256 == row["hash"] and buf.getvalue().startswith(b"%PDF") and got.head.startswith(b"%PDF")


def test_download_with_a_wrong_hash_is_an_integrity_error(servicenow, sn):
    row = next(r for r in servicenow.emu.tables["sys_attachment"].values() if r["file_name"] == "corrupted-report.pdf")
    with pytest.raises(ServiceNowIntegrityError, match="does not match"):
        download(sn, row["sys_id"], io.BytesIO(), expected_sha256=row["hash"])


def test_schema_validation_accepts_the_default_schema_with_inherited_fields(sn):
    from connector.servicenow.default_schema import DEFAULT_TABLES

    wanted = {spec["table"]: set(spec["fields"]) | fields_in_query(spec["filter"]) for spec in DEFAULT_TABLES.values()}
    cols = validate_tables(sn, wanted)
    assert cols["vm_vdr_contact"]["email"] == "email"  # inherited from sys_user


def test_schema_validation_names_a_misspelt_field_and_suggests(sn):
    with pytest.raises(ConfigError) as exc:
        validate_tables(sn, {"core_company": {"name", "vendor_manger"}, "no_such_table": {"x"}})
    msg = str(exc.value)
    assert "core_company.vendor_manger does not exist (did you mean 'vendor_manager'?)" in msg
    assert "'no_such_table' does not exist" in msg


def test_fields_in_query():
    assert (fields_in_query("vendor=true^stateIN1,2^ORnameLIKEx^NQactive!=false")
            == {"vendor", "state", "name", "active"})
