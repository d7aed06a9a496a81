"""Unit specifications of the pure parts: config, hashing, PATCH diff, file checks, state DB."""

import os
import sqlite3
import stat

import pytest

from connector.canonical import canonical_hash, email_problem, normalize_email
from connector.config import ConnectorConfig, load_config, parse_config
from connector.errors import ConfigError
from connector.state import SCHEMA_VERSION, LedgerRow, StateDB
from connector.state_schema import m001_initial
from connector.sync.payloads import diff

# --- configuration ----------------------------------------------------------------------------


def test_no_file_means_all_defaults():
    cfg = load_config(None)
    assert cfg.source.tables["vendors"].filter == "vendor=true" and cfg.sync.concurrency == 8
    assert cfg.assessments.ineligible_states[:2] == ["closed", "cancelled"]


def test_a_partial_file_keeps_the_other_defaults(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("sync:\n  concurrency: 4\n")
    cfg = load_config(p)
    assert cfg.sync.concurrency == 4 and cfg.source.tables["users"].table == "sys_user"


def test_unknown_key_is_named_with_its_path():
    with pytest.raises(ConfigError, match=r"vendors\.status_mapp: unknown key"):
        parse_config({"vendors": {"status_mapp": {}}})


def test_wrong_type_is_explained():
    with pytest.raises(ConfigError, match=r"sync\.concurrency: .*integer"):
        parse_config({"sync": {"concurrency": "many"}})


def test_status_map_values_must_be_status_ids():
    with pytest.raises(ConfigError, match="cbst_"):
        parse_config({"vendors": {"status_map": {"active": "Active"}}})


def test_control_sets_must_be_control_set_ids():
    with pytest.raises(ConfigError, match="cbctst_"):
        parse_config({"assessments": {"control_sets_by_template": {"x": ["SIG"]}}})


def test_table_fields_must_include_the_cursor_columns():
    with pytest.raises(ConfigError, match="sys_updated_on"):
        parse_config({"source": {"tables": {"users": {"table": "sys_user", "fields": ["sys_id", "email"]}}}})


def test_unknown_source_table_key_is_refused():
    with pytest.raises(ConfigError, match="unknown source table"):
        parse_config({"source": {"tables": {"suppliers": {"table": "x", "fields": ["sys_id", "sys_updated_on"]}}}})


def test_invalid_yaml_names_line_and_column(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("sync:\n  concurrency: [1\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        load_config(p)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="CONNECTOR_CONFIG points at"):
        load_config(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="mapping of sections"):
        parse_config(["a", "b"])


def test_document_type_by_pattern():
    cfg = parse_config({"documents": {"type_by_pattern": [{"pattern": "*soc2*", "type": "soc2_type2_auditor_report"}]}})
    assert cfg.documents.document_type("Acme_SOC2_Type_II.pdf") == "soc2_type2_auditor_report"
    assert cfg.documents.document_type("contract.pdf") is None


# --- canonical hashing and the PATCH diff ----------------------------------------------------


def test_hash_ignores_key_order_whitespace_and_id_order():
    a = {"name": "Acme  Ltd", "relationship_owner_ids": ["b", "a"], "website": None}
    b = {"relationship_owner_ids": ["a", "b"], "name": "Acme Ltd "}
    assert canonical_hash(a) == canonical_hash(b)


def test_hash_sees_real_changes():
    assert canonical_hash({"name": "Acme"}) != canonical_hash({"name": "Acme Inc"})


def test_hash_normalises_unicode_forms():
    assert canonical_hash({"name": "Société"}) == canonical_hash({"name": "Socie\u0301te\u0301"})


def test_diff_sends_only_changed_fields():
    assert diff({"name": "A", "website": "x"}, {"name": "B", "website": "x"}) == {"name": "B"}


def test_diff_clears_removed_strings_and_lists():
    assert diff({"website": "x", "relationship_owner_ids": ["u"]}, {"relationship_owner_ids": []}) == \
        {"website": "", "relationship_owner_ids": []}


def test_diff_never_sends_external_id():
    assert diff({"external_id": "a"}, {"external_id": "b"}) == {}


def test_emails_are_trimmed_and_lowercased():
    assert normalize_email("  Dana.Lee@Globex.Example ") == "dana.lee@globex.example"


def test_email_problems_are_explained():
    assert "@-sign" in email_problem("not-an-email")
    assert email_problem("jana.lópez@globex.example") is None


# --- file checks: tests/test_file_names.py (names repaired), tests/test_bom_detection.py (BOMs) ---------


# --- state DB ---------------------------------------------------------------------------------


def test_new_state_db_is_private_and_current(tmp_path):
    db = StateDB(tmp_path / "s" / "state.db")
    assert db.version == SCHEMA_VERSION
    assert stat.S_IMODE(os.stat(tmp_path / "s" / "state.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "s").st_mode) == 0o700


def test_a_v1_database_is_migrated_forward(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    import sqlite_utils

    old = sqlite_utils.Database(conn)
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    m001_initial(old)
    old.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    old.execute("INSERT INTO ledger (entity, source, source_key, status, updated_at) "
                "VALUES ('vendor','sn','k','ok','t')")
    conn.commit()
    conn.close()
    db = StateDB(path)
    assert db.version == SCHEMA_VERSION
    row = db.ledger_row("vendor", "sn", "k")
    assert row.status == "ok" and row.request_id is None


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    StateDB(path).db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(RuntimeError, match="newer than this connector"):
        StateDB(path)


def test_a_page_and_its_cursor_commit_together(tmp_path):
    db = StateDB(tmp_path / "state.db")
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.upsert_staged("vendors", "sn", [{"sys_id": "a", "sys_updated_on": "2026-01-01 00:00:00"}], run_id="r")
            db.set_cursor("sn", "vendors", "2026-01-01 00:00:00", "a", None, "r")
            raise RuntimeError("killed between page and cursor")
    assert db.staged("vendors", "sn") == [] and db.get_cursor("sn", "vendors") is None


def test_unchanged_records_are_not_rewritten(tmp_path):
    db = StateDB(tmp_path / "state.db")
    rec = {"sys_id": "a", "sys_updated_on": "2026-01-01 00:00:00", "name": "x"}
    assert db.upsert_staged("vendors", "sn", [rec], run_id="r1") == (1, 0)
    assert db.upsert_staged("vendors", "sn", [rec], run_id="r2") == (0, 1)


def test_ledger_round_trips_payloads(tmp_path):
    db = StateDB(tmp_path / "state.db")
    db.upsert_ledger([LedgerRow(entity="vendor", source="sn", source_key="k", status="ok", payload={"name": "Ü"})])
    assert db.ledger("vendor", "sn")["k"].payload == {"name": "Ü"}


def test_changelog_is_append_only_history(tmp_path):
    db = StateDB(tmp_path / "state.db")
    for status in ("failed", "ok"):
        db.log_write(run_id="r", entity="vendor", source="sn", source_key="k", operation="create",
                     coverbase_id=None, payload_hash="h", status=status)
    assert [r["status"] for r in db.db.query("SELECT status FROM changelog ORDER BY id")] == ["failed", "ok"]


def test_default_config_is_valid_model():
    assert isinstance(ConnectorConfig(), ConnectorConfig)


def test_plain_payloads_match_their_request_models():
    from connector.canonical import CanonicalAttachment, CanonicalService
    from connector.coverbase.models import DocumentFields, ServiceCreate
    from connector.sync.payloads import document_payload, service_payload

    s = CanonicalService(source="sn", key="e1", name="Hosting", description=None, vendor_key="v")
    p = service_payload(s, ["u2", "u1"])
    assert p == ServiceCreate(**p).body() == ServiceCreate(name="Hosting", external_id="e1",
                                                          relationship_owner_ids=["u1", "u2"]).body()
    a = CanonicalAttachment(source="sn", key="a", file_name="x.pdf", size=1, file_ref="a")
    d = document_payload(a, "v1", ["s2", "s1"], [], ConnectorConfig())
    assert d == DocumentFields(**d).body()
