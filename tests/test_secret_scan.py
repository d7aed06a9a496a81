"""Secrets never reach logs, Dagster storage, metadata, exceptions or the state DB.

Runs ``sync_all`` as a subprocess with OAuth (password grant, so the password is used too) and
distinctive secrets, against emulators with faults; a second run fails fatally (ServiceNow
answers HTML). Then every byte of stdout/stderr, of DAGSTER_HOME (event logs, run storage,
compute logs) and of the state DB is searched for each secret: zero hits.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import start_coverbase, start_servicenow

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
COVERBASE_KEY = "ak_live_SECRETcoverbasekey_7f3a9c2e41d8"
SN_PASSWORD = "SNpw-SECRET-4c1b8e9d0a"
OAUTH_SECRET = "oauth-SECRET-client-b72f19e6"


def scan(paths: list[Path], blobs: list[str]) -> list[str]:
    secrets = [COVERBASE_KEY, SN_PASSWORD, OAUTH_SECRET]
    hits = []
    for text in blobs:
        hits += [f"process output contains {s[:12]}…" for s in secrets if s in text]
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            data = f.read_bytes()
            hits += [f"{f} contains {s[:12]}…" for s in secrets if s.encode() in data]
    return hits


def test_no_secret_in_output_dagster_home_or_state_db(tmp_path):
    cb = start_coverbase(api_key=COVERBASE_KEY,
                         faults={"seed": 5, "rate_5xx": 0.05, "rate_429": 0.05, "retry_after": 0.01,
                                 "rate_ambiguous": 0.03})
    sn = start_servicenow(password=SN_PASSWORD, client_secret=OAUTH_SECRET,
                          faults={"seed": 5, "rate_429": 0.05, "retry_after": 0.01, "rate_truncated": 0.05})
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / ".dagster" / "dagster.yaml").read_text())
    state = tmp_path / "state.db"
    env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": cb.url, "COVERBASE_API_KEY": COVERBASE_KEY,
           "SERVICENOW_INSTANCE_URL": sn.url, "SERVICENOW_USERNAME": "integration.user",
           "SERVICENOW_PASSWORD": SN_PASSWORD, "SERVICENOW_CLIENT_ID": "demo-client-id",
           "SERVICENOW_CLIENT_SECRET": OAUTH_SECRET, "CONNECTOR_STATE_DB": str(state)}
    env.pop("CONNECTOR_CONFIG", None)
    cmd = [DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"]
    try:
        ok = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert ok.returncode == 0, ok.stdout[-2000:]
        assert "user_exists" in ok.stdout + ok.stderr or state.exists()  # the run had rejected records
        sn.emu.set_faults({"html_always": True})
        failed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert failed.returncode != 0 and "answered HTML instead of JSON" in failed.stdout + failed.stderr
        outputs = [ok.stdout, ok.stderr, failed.stdout, failed.stderr]
        hits = scan([home, tmp_path], outputs)
        assert hits == []
        assert any(p.suffix == ".db" for p in home.rglob("*")), "Dagster storage was scanned"
    finally:
        cb.server.stop()
        sn.server.stop()


def test_exceptions_and_reprs_carry_no_secret():
    from connector.coverbase.client import CoverbaseClient
    from connector.servicenow.client import ServiceNowClient

    cb = CoverbaseClient("https://api.coverbase.app", COVERBASE_KEY)
    sn = ServiceNowClient("https://x.service-now.com", username="u", password=SN_PASSWORD, client_id="c",
                          client_secret=OAUTH_SECRET)
    text = repr(cb) + repr(sn) + repr(sn.credentials) + repr(cb._http.headers)
    assert scan([], [text]) == []
    cb.close()
    sn.close()
