"""The write user's password never reaches output, Dagster storage or the state DB, through a run with a
refused write, faults and a fatal credentials error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from connector.emulators import fixtures as fx
from connector.servicenow.writer import WRITE_ROLE
from tests.conftest import start_coverbase, start_servicenow
from tests.write_back_support import config

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
WRITE_USER, WRITE_PASSWORD = "coverbase.writer", "SNwrite-SECRET-5d2e8a71c3"


def hits(paths: list[Path], texts: list[str]) -> list[str]:
    found = [f"process output #{i}" for i, t in enumerate(texts) if WRITE_PASSWORD in t]
    for root in paths:
        for f in ([root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]):
            if WRITE_PASSWORD.encode() in f.read_bytes():
                found.append(str(f))
    return found


@pytest.mark.timeout(600)
def test_the_write_password_appears_nowhere(tmp_path):
    cb = start_coverbase(faults={"seed": 4, "rate_5xx": 0.05, "path_filter": "^/v1/assessments/"})
    sn = start_servicenow()
    sn.emu.writes.users[WRITE_USER] = WRITE_PASSWORD
    sn.emu.writes.set_settings({"seed": 4, "rate_ambiguous": 0.2, "rate_429": 0.1, "retry_after": 0.01,
                                "roles": {fx.DEMO_SN_USER: [], WRITE_USER: [WRITE_ROLE]}})
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / ".dagster" / "dagster.yaml").read_text())
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(config()))
    env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": cb.url, "COVERBASE_API_KEY": cb.api_key,
           "SERVICENOW_INSTANCE_URL": sn.url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "SERVICENOW_WRITE_USERNAME": WRITE_USER,
           "SERVICENOW_WRITE_PASSWORD": WRITE_PASSWORD, "CONNECTOR_STATE_DB": str(tmp_path / "state.db"),
           "CONNECTOR_CONFIG": str(mapping)}
    for name in ("SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
        env.pop(name, None)
    cmd = [DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"]
    try:
        ok = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert ok.returncode == 0, ok.stdout[-2000:]
        notes = [r for r in sn.emu.tables["sys_journal_field"].values()]
        assert notes and {r["sys_created_by"] for r in notes} == {WRITE_USER}
        sn.emu.writes.users[WRITE_USER] = "rotated-password-000"  # the configured one is now wrong
        failed = subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "write_back"], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=600)
        assert failed.returncode != 0 and "SERVICENOW_WRITE_USERNAME" in failed.stdout + failed.stderr
        assert hits([home, tmp_path / "state.db"], [ok.stdout, ok.stderr, failed.stdout, failed.stderr]) == []
    finally:
        cb.server.stop()
        sn.server.stop()
