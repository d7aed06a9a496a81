"""`python -m connector doctor` against the project's emulators: all checks pass on the demo set-up;
a wrong ServiceNow password, an unreadable table, a hidden field, the BOM entitlement off, a bad
Coverbase key and run monitoring off each show as a failing row with its fix; no secret is printed."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from connector.coverbase.models import VendorCreate
from connector.doctor import cli
from connector.emulators import fixtures as fx
from tests.conftest import start_coverbase, start_servicenow
from tests.test_dagster_dev import REPO, dagster_home

SECRETS = (fx.DEMO_API_KEY, fx.DEMO_SN_PASSWORD, fx.DEMO_SN_CLIENT_SECRET)


@pytest.fixture
def world(tmp_path):
    cb, sn = start_coverbase(), start_servicenow()
    yield cb, sn
    cb.server.stop()
    sn.server.stop()


def demo_env(tmp_path, cb, sn, **extra) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "COVERBASE_API_URL": cb.url, "COVERBASE_API_KEY": cb.api_key,
            "SERVICENOW_INSTANCE_URL": sn.url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
            "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(tmp_path / "state.db"),
            "CONNECTOR_CONFIG": str(REPO / "examples" / "demo-config.yaml"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home") if (tmp_path / "dagster_home").exists()
            else str(dagster_home(tmp_path)), **extra}


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict], str]:
    out = io.StringIO()
    code = cli.run(env, as_json=True, out=out, cwd=REPO)
    rows = json.loads(out.getvalue())["checks"]
    table = io.StringIO()
    cli.run(env, out=table, cwd=REPO, width=200)
    return code, {r["check"]: r for r in rows}, out.getvalue() + table.getvalue()


def failing(rows: dict[str, dict]) -> dict[str, dict]:
    return {k: r for k, r in rows.items() if r["status"] == "FAIL"}


def with_a_vendor(cb) -> None:
    """The BOM entitlement probe reads the BOMs of a vendor the org has."""
    with cb.client() as c:
        c.create_vendor(VendorCreate(name="Doctor Probe Ltd"), idempotency_key="doctor-test-vendor")


@pytest.mark.timeout(120)
def test_every_check_passes_against_the_demo_emulators(tmp_path, world):
    cb, sn = world
    with_a_vendor(cb)
    code, rows, text = doctor(demo_env(tmp_path, cb, sn))
    assert failing(rows) == {} and code == 0
    for check in ("COVERBASE_API_KEY", "Coverbase API key", "Coverbase BOM entitlement", "ServiceNow credentials",
                  "ServiceNow: sys_attachment", "ServiceNow: sys_db_object", "ServiceNow: sys_dictionary",
                  "mapping vs the instance", "ServiceNow: sys_user", "ServiceNow: core_company",
                  "ServiceNow: sn_vdr_risk_asmt_assessment", "state DB", "Dagster instance", "run monitoring",
                  "writer pool"):
        assert rows[check]["status"] == "ok", (check, rows[check])
    assert "all checks passed" in text
    assert not any(secret in text for secret in SECRETS)


@pytest.mark.timeout(120)
def test_a_wrong_servicenow_password_is_a_failing_row_with_its_fix(tmp_path, world):
    cb, sn = world
    code, rows, text = doctor(demo_env(tmp_path, cb, sn, SERVICENOW_PASSWORD="not-the-password"))
    assert code == 1
    row = failing(rows)["ServiceNow credentials"]
    assert "rejected the Basic credentials (401)" in row["result"]
    assert "SERVICENOW_USERNAME and SERVICENOW_PASSWORD" in row["fix"]
    assert "not-the-password" not in text


@pytest.mark.timeout(120)
def test_an_unreadable_table_and_a_hidden_field_are_failing_rows_with_their_fixes(tmp_path, world):
    cb, sn = world
    sn.emu.set_faults({"denied_tables": ["sn_vdr_risk_asmt_assessment"], "hidden_fields": ["sys_user.email"]})
    code, rows, _ = doctor(demo_env(tmp_path, cb, sn))
    assert code == 1
    bad = failing(rows)
    table = bad["ServiceNow: sn_vdr_risk_asmt_assessment"]
    assert "not readable" in table["result"] and "User Not Authorized" in table["result"]
    assert "read access to sn_vdr_risk_asmt_assessment" in table["fix"]
    field = bad["ServiceNow: sys_user"]
    assert field["result"] == "fields hidden from the integration user (field ACLs): email"
    assert field["fix"] == "Grant read on sys_user.email (field-level ACLs)"


@pytest.mark.timeout(120)
def test_an_unreadable_attachment_api_or_dictionary_is_a_failing_row(tmp_path, world):
    cb, sn = world
    sn.emu.set_faults({"denied_tables": ["sys_attachment", "sys_dictionary"]})
    code, rows, _ = doctor(demo_env(tmp_path, cb, sn))
    bad = failing(rows)
    assert code == 1 and {"ServiceNow: sys_attachment", "ServiceNow: sys_dictionary"} <= set(bad)
    assert "Attachment API" in bad["ServiceNow: sys_attachment"]["fix"]
    assert rows["mapping vs the instance"]["status"] == "skip"


@pytest.mark.timeout(120)
def test_the_bom_entitlement_off_is_a_failing_row_with_its_fix(tmp_path):
    cb, sn = start_coverbase(bom_entitled=False), start_servicenow()
    try:
        with_a_vendor(cb)
        code, rows, _ = doctor(demo_env(tmp_path, cb, sn))
    finally:
        cb.server.stop()
        sn.server.stop()
    assert code == 1
    row = failing(rows)["Coverbase BOM entitlement"]
    assert row["result"].startswith("off: every /v1/bill_of_materials route answers 404")
    assert "enable the bill-of-materials feature" in row["fix"] and "boms.enabled: false" in row["fix"]


@pytest.mark.timeout(120)
def test_a_revoked_coverbase_key_and_a_missing_workflow_are_failing_rows(tmp_path, world):
    cb, sn = world
    code, rows, text = doctor(demo_env(tmp_path, cb, sn, COVERBASE_API_KEY="ak_revoked_key_123"))
    assert code == 1 and "refused the key" in failing(rows)["Coverbase API key"]["result"]
    assert "ak_revoked_key_123" not in text
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("assessments:\n  trigger_workflow: no-such-workflow\n")
    code, rows, _ = doctor(demo_env(tmp_path, cb, sn, CONNECTOR_CONFIG=str(mapping)))
    assert code == 1 and "does not exist in the org" in failing(rows)["Coverbase workflow"]["result"]


@pytest.mark.timeout(120)
def test_a_dagster_instance_without_run_monitoring_or_writer_pool_fails(tmp_path, world):
    cb, sn = world
    home = tmp_path / "bare_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    code, rows, _ = doctor(demo_env(tmp_path, cb, sn, DAGSTER_HOME=str(home)))
    bad = failing(rows)
    assert code == 1 and {"run monitoring", "writer pool"} <= set(bad)
    assert "run_monitoring" in bad["run monitoring"]["fix"]


@pytest.mark.timeout(120)
def test_a_state_db_others_can_read_is_a_warning_and_a_corrupt_one_fails(tmp_path, world):
    cb, sn = world
    db = tmp_path / "state.db"
    shutil.copy(REPO / "README.md", db)  # not a database
    db.chmod(0o644)
    code, rows, _ = doctor(demo_env(tmp_path, cb, sn))
    assert rows["state DB permissions"]["status"] == "warn" and rows["state DB permissions"]["fix"] == f"chmod 600 {db}"
    assert rows["state DB"]["status"] == "FAIL" and code == 1


@pytest.mark.timeout(120)
def test_the_command_line_prints_the_table_and_exits_0_only_when_all_pass(tmp_path, world):
    cb, sn = world
    with_a_vendor(cb)
    env = demo_env(tmp_path, cb, sn)
    done = subprocess.run([sys.executable, "-m", "connector", "doctor"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=90)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "how to fix" in done.stdout and "all checks passed" in done.stdout
    done = subprocess.run([sys.executable, "-m", "connector", "doctor"], cwd=REPO,
                          env={**env, "SERVICENOW_PASSWORD": "wrong"}, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1 and "ServiceNow credentials" in done.stdout and "1 check failed" in done.stdout
    assert not any(secret in done.stdout + done.stderr for secret in SECRETS)
