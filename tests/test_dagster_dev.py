"""`dagster dev` from the repo root serves every asset, both jobs, the schedule and the checks;
and the pinned CLI command exits 0 on success (rejected records included), non-zero on a fatal error."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from connector.emulators import fixtures as fx
from tests.conftest import start_coverbase, start_servicenow

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  jobs { name } schedules { name cronSchedule }
  assetNodes { assetKey { path } groupName kinds pools isPartitioned
               assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture
def dev_server(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(tmp_path)), "COVERBASE_API_KEY": "ak_not_used"}
    proc = subprocess.Popen([DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:  # wait for readiness (bounded): not a race, a server booting
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("dagster dev did not come up")
            time.sleep(1)
    yield url
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_dagster_dev_serves_assets_jobs_schedule_and_checks(dev_server):
    req = urllib.request.Request(f"{dev_server}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        repo = json.loads(resp.read())["data"]["repositoriesOrError"]["nodes"][0]
    assert {"sync_all", "migrate"} <= {j["name"] for j in repo["jobs"]}
    assert repo["schedules"] == [{"name": "sync_all_schedule", "cronSchedule": "0 * * * *"}]
    nodes = {"/".join(n["assetKey"]["path"]): n for n in repo["assetNodes"]}
    extract = ["sn_users", "sn_vendors", "sn_vendor_contacts", "sn_engagements", "sn_assessments", "sn_issues",
               "sn_attachments"]
    push = ["coverbase_users", "coverbase_vendors", "coverbase_services", "coverbase_documents", "coverbase_boms",
            "coverbase_assessments", "coverbase_findings"]
    assert set(nodes) == {"preflight_checks", *extract, *push, "servicenow_assessment_outcomes"}
    assert nodes["servicenow_assessment_outcomes"]["pools"] == ["coverbase_writer"]
    assert "write_back" in {j["name"] for j in repo["jobs"]}
    assert all(nodes[a]["isPartitioned"] and nodes[a]["groupName"] == "servicenow_extract" for a in extract)
    assert all(nodes[a]["pools"] == ["coverbase_writer"] and "coverbase" in nodes[a]["kinds"] for a in push)
    checks = {(a, c["name"], c["blocking"]) for a in push for c in nodes[a]["assetChecksOrError"]["checks"]}
    assert {(a, "rejected_share", True) for a in push} <= checks
    assert ("coverbase_vendors", "drift_against_ledger", False) in checks
    assert ("coverbase_vendors", "no_duplicate_external_ids", False) in checks


def _execute(tmp_path, cb, sn, key):
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(tmp_path)), "COVERBASE_API_URL": cb.url,
           "COVERBASE_API_KEY": key, "SERVICENOW_INSTANCE_URL": sn.url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(tmp_path / "state.db")}
    for name in ("CONNECTOR_CONFIG", "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
        env.pop(name, None)
    return subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)


def test_pinned_command_exits_0_when_the_run_succeeds_with_rejected_records(tmp_path):
    cb, sn = start_coverbase(), start_servicenow()
    try:
        done = _execute(tmp_path, cb, sn, cb.api_key)
        assert done.returncode == 0, done.stdout[-2000:]
        assert "RUN_SUCCESS" in done.stdout + done.stderr
    finally:
        cb.server.stop()
        sn.server.stop()


def test_pinned_command_exits_non_zero_on_a_fatal_error(tmp_path):
    cb, sn = start_coverbase(), start_servicenow()
    try:
        done = _execute(tmp_path, cb, sn, "ak_wrong_key")
        out = done.stdout + done.stderr
        assert done.returncode != 0
        assert "Coverbase refused the API key" in out and "ak_wrong_key" not in out
        assert "Stack Trace" not in out and out.count("Coverbase refused the API key") == 1
    finally:
        cb.server.stop()
        sn.server.stop()
