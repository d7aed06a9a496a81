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
from tests.write_back_support import WriteBackHarness, config

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
    h = WriteBackHarness(tmp_path)
    try:
        h.run()  # the sync, in process: the write credentials are only used by the write-back below
        h.cb.emu.set_faults({"seed": 4, "rate_5xx": 0.05, "path_filter": "^/v1/assessments/"})
        h.sn.emu.writes.users[WRITE_USER] = WRITE_PASSWORD
        h.sn.emu.writes.set_settings({"seed": 4, "rate_ambiguous": 0.2, "rate_429": 0.1, "retry_after": 0.01,
                                      "roles": {fx.DEMO_SN_USER: [], WRITE_USER: [WRITE_ROLE]}})
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((REPO / ".dagster" / "dagster.yaml").read_text())
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(yaml.safe_dump(config()))
        env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": h.cb.url,
               "COVERBASE_API_KEY": h.cb.api_key, "SERVICENOW_INSTANCE_URL": h.sn.url,
               "SERVICENOW_USERNAME": fx.DEMO_SN_USER, "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD,
               "SERVICENOW_WRITE_USERNAME": WRITE_USER, "SERVICENOW_WRITE_PASSWORD": WRITE_PASSWORD,
               "CONNECTOR_STATE_DB": str(h.state_path), "CONNECTOR_CONFIG": str(mapping)}
        for name in ("SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
            env.pop(name, None)
        cmd = [DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "write_back"]
        ok = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
        notes = list(h.sn.emu.tables["sys_journal_field"].values())
        assert notes and {r["sys_created_by"] for r in notes} == {WRITE_USER}
        h.sn.emu.writes.users[WRITE_USER] = "rotated-password-000"  # the configured one is now wrong
        h.advance(10 * 3600)
        failed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert (failed.returncode != 0
                and "SERVICENOW_WRITE_USERNAME" in failed.stdout + failed.stderr), failed.stderr[-3000:]
        # tmp_path: DAGSTER_HOME (event logs, run storage, compute logs), the state DB with its WAL, the mapping
        assert hits([tmp_path], [ok.stdout, ok.stderr, failed.stdout, failed.stderr]) == []
    finally:
        h.close()
