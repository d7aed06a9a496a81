"""Migrating a file export of another GRC tool: the migrate job with source: files."""

import csv
import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import build_definitions
from assets.resources import CoverbaseResource, LedgerResource, ServiceNowResource, SyncOptionsResource
from connector.config import ConnectorConfig, parse_config
from connector.sources.files import ExportInvalid, FileSource, validate_export
from tests.conftest import start_coverbase

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grc-export"


@pytest.fixture
def coverbase():
    cb = start_coverbase()
    yield cb
    cb.server.stop()


def migrate(cb, tmp_path, path, **config):
    resources = {"coverbase": CoverbaseResource(api_url=cb.url, api_key=cb.api_key),
                 "servicenow": ServiceNowResource(),  # not configured: not needed for a file migration
                 "ledger": LedgerResource(state_db=str(tmp_path / "state.db")),
                 "sync_options": SyncOptionsResource()}
    run_config = {"ops": {"migrate_op": {"config": {"source": "files", "path": str(path), **config}}}}
    return build_definitions(resources).resolve_job_def("migrate").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config=run_config, raise_on_error=False)


def writes(cb, since=0):
    return [e for e in cb.emu.log[since:] if e["method"] != "GET" and e["path"].startswith("/v1")]


def test_the_sample_export_migrates_and_a_rerun_is_a_no_op(coverbase, tmp_path):
    result = migrate(coverbase, tmp_path, SAMPLE, dry_run=False)
    assert result.success
    st = coverbase.state()
    assert len(st["vendors"]) == 30
    assert sum(len(v["services"]) for v in st["vendors"]) == 45
    assert len(st["assessments"]) == 15 and len(st["boms"]) == 1
    assert len([d for d in st["documents"] if not d["is_archived"]]) == 12
    assert {v["external_id"] for v in st["vendors"]} == {f"V-{1001 + i}" for i in range(30)}
    assert any(u["email"] == "risk.office@example-buyer.com" for u in st["users"])
    report = result.output_for_node("migrate_op")
    assert report["entities"]["vendors"]["outcomes"]["created"] == 30
    findings = st["findings"]  # 20 issues, 3 of them cancelled: never created
    assert len(findings) == 17 and sum(1 for f in findings if f["assessment_id"]) == 2
    assert any(f["title"] == "ISS-3008" for f in findings)  # empty title: its number
    assert all(f["body"].endswith(")") and "(key I-" in f["body"] for f in findings)
    assert report["entities"]["findings"]["outcomes"]["skipped"] == 3
    mark = len(coverbase.emu.log)
    again = migrate(coverbase, tmp_path, SAMPLE, dry_run=False)
    assert again.success and writes(coverbase, mark) == []
    assert again.output_for_node("migrate_op")["entities"]["vendors"]["outcomes"]["unchanged"] == 30


def test_a_file_migration_is_a_dry_run_by_default(coverbase, tmp_path):
    result = migrate(coverbase, tmp_path, SAMPLE)
    assert result.success and writes(coverbase) == []
    assert result.output_for_node("migrate_op")["entities"]["documents"]["planned"]["create"] == 12


def broken_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "broken"
    shutil.copytree(SAMPLE, dst)
    with open(dst / "users.csv", "a", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["U-ana", "ana.again@example-buyer.com", "Ana", "Again", "yes"])  # row 10: duplicate key
        w.writerow(["U-zed", "zed-at-example", "Zed", "Broken", "yes"])  # row 11: bad email
    services = json.loads((dst / "services.json").read_text())
    services[2]["vendor_id"] = "V-9999"  # row 3: unknown vendor
    services[4]["documents"] = "../../etc/passwd"  # row 5: escapes the folder
    services[5]["documents"] = "documents/missing.pdf"  # row 6: does not exist
    (dst / "services.json").write_text(json.dumps(services))
    rows = list(csv.DictReader(open(dst / "assessments.csv")))
    rows[0]["service_id"] = "S-0000-1"  # row 2: unknown service
    del rows[1]["vendor_id"]
    with open(dst / "assessments.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "vendor_id", "service_id", "name", "assignee", "template", "state",
                                           "documents"])
        w.writeheader()
        rows[1]["vendor_id"] = ""  # row 3: empty vendor (required)
        w.writerows(rows)
    return dst


EXPECTED_PROBLEMS = [
    ("users.csv", 10, "id", "duplicate key 'U-ana'"),
    ("users.csv", 11, "email", "not a valid email address"),
    ("services.json", 3, "vendor_id", "unknown vendor 'V-9999'"),
    ("services.json", 5, "documents", "escapes the export folder"),
    ("services.json", 6, "documents", "does not exist"),
    ("assessments.csv", 2, "service_id", "unknown service 'S-0000-1'"),
]


def test_a_broken_export_is_reported_with_file_row_and_column(tmp_path):
    _, problems = validate_export(broken_copy(tmp_path), ConnectorConfig())
    for file, row, column, text in EXPECTED_PROBLEMS:
        assert any(p.file == file and p.row == row and p.column == column and text in p.message for p in problems), \
            (file, row, column, text, [str(p) for p in problems])


def test_a_broken_export_migrates_nothing_and_the_failure_names_every_problem(coverbase, tmp_path):
    result = migrate(coverbase, tmp_path, broken_copy(tmp_path), dry_run=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error)
    assert "nothing was written" in text
    for file, row, column, message in EXPECTED_PROBLEMS:
        assert f"{file}, row {row}, column {column!r}" in text and message in text
    assert writes(coverbase) == []


def test_missing_required_columns_and_tables_are_reported(tmp_path):
    (tmp_path / "vendors.csv").write_text("vendor_name\nAcme\n")
    _, problems = validate_export(tmp_path, ConnectorConfig())
    assert any(p.column == "id" and "required column missing" in p.message for p in problems)
    assert any(p.column == "name" and "required column missing" in p.message for p in problems)


def test_column_names_are_mapped_through_the_config(tmp_path):
    (tmp_path / "vendors.csv").write_text("Supplier ID,Supplier Name\nS1,Acme Ltd\n")
    cfg = parse_config({"source": {"columns": {"vendors": {"key": "Supplier ID", "name": "Supplier Name"}}}})
    export, problems = validate_export(tmp_path, cfg)
    assert problems == [] and export.vendors["S1"]["name"] == "Acme Ltd"


def test_an_unknown_field_in_the_column_mapping_is_reported(tmp_path):
    (tmp_path / "vendors.csv").write_text("id,name\nS1,Acme\n")
    cfg = parse_config({"source": {"columns": {"vendors": {"nmae": "Supplier"}}}})
    _, problems = validate_export(tmp_path, cfg)
    assert any("source.columns.vendors.nmae: unknown field" in p.message for p in problems)


def test_a_symlink_out_of_the_export_is_refused(tmp_path):
    root = tmp_path / "x"
    root.mkdir()
    (tmp_path / "secret.pdf").write_bytes(b"%PDF secret")
    (root / "link.pdf").symlink_to(tmp_path / "secret.pdf")
    (root / "vendors.csv").write_text("id,name,documents\nV1,Acme,link.pdf\n")
    _, problems = validate_export(root, ConnectorConfig())
    assert any("escapes the export folder" in p.message for p in problems)


def test_file_source_check_raises_the_whole_report(tmp_path):
    with pytest.raises(ExportInvalid) as exc:
        FileSource(broken_copy(tmp_path), ConnectorConfig()).check()
    assert len(exc.value.problems) >= len(EXPECTED_PROBLEMS)


def test_a_document_removed_from_the_export_is_archived(coverbase, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    assert migrate(coverbase, tmp_path, export, dry_run=False).success
    services = json.loads((export / "services.json").read_text())
    for s in services:
        s["documents"] = ""
    (export / "services.json").write_text(json.dumps(services))
    result = migrate(coverbase, tmp_path, export, dry_run=False)
    assert result.success
    assert result.output_for_node("migrate_op")["entities"]["documents"]["outcomes"]["archived"] == 1


def test_issue_rows_with_unknown_references_or_bad_dates_are_reported(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    rows = list(csv.DictReader(open(export / "issues.csv")))
    rows[0]["vendor_id"] = "V-9999"  # row 2
    rows[1]["service_id"] = "S-1003-1"  # row 3: a service of another vendor
    rows[2]["assessment_id"] = "A-0000"  # row 4
    rows[3]["due_date"] = "next Tuesday"  # row 5
    with open(export / "issues.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    _, problems = validate_export(export, ConnectorConfig())
    got = {(p.row, p.column): p.message for p in problems if p.file == "issues.csv"}
    assert "unknown vendor 'V-9999'" in got[(2, "vendor_id")]
    assert "belongs to vendor 'V-1003', not 'V-1002'" in got[(3, "service_id")]
    assert "unknown assessment 'A-0000'" in got[(4, "assessment_id")]
    assert "'next Tuesday' is not a date" in got[(5, "due_date")]


def test_an_issue_removed_from_the_export_has_its_finding_archived(coverbase, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    assert migrate(coverbase, tmp_path, export, dry_run=False).success
    rows = list(csv.DictReader(open(export / "issues.csv")))
    with open(export / "issues.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[1:])  # I-3001 is gone
    result = migrate(coverbase, tmp_path, export, dry_run=False)
    assert result.success
    assert result.output_for_node("migrate_op")["entities"]["findings"]["outcomes"]["archived"] == 1
    assert sum(f["is_archived"] for f in coverbase.state()["findings"]) == 1
