"""Crash-resume: ``sync_all`` in a subprocess, killed with SIGKILL at seeded random moments, then
run to completion: no duplicate in Coverbase, nothing lost, ledger consistent with Coverbase.

The default test kills 3 times on the ``small`` dataset (CI). ``CONNECTOR_CRASH_TEST=full`` runs
the full variant: 10 kills on the ``medium`` dataset.
"""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector.emulators import fixtures as fx
from tests.conftest import start_coverbase, start_servicenow
from tests.sync_oracle import assert_end_state, assert_no_duplicates_and_ledger_consistent, expected

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
FULL = os.environ.get("CONNECTOR_CRASH_TEST") == "full"


class _H:
    """Enough of the Harness interface for the oracle's end-state assertion."""

    def __init__(self, cb, sn):
        self.cb, self.sn = cb, sn

    def cb_state(self):
        return self.cb.state()


def _env(tmp_path: Path, cb, sn) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / ".dagster" / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": cb.url, "COVERBASE_API_KEY": cb.api_key,
           "SERVICENOW_INSTANCE_URL": sn.url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(tmp_path / "state.db")}
    for name in ("CONNECTOR_CONFIG", "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
        env.pop(name, None)
    return env


def _start(env: dict) -> subprocess.Popen:
    return subprocess.Popen([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.parametrize("dataset,kills,seed", [("medium", 10, 2026)] if FULL else [("small", 3, 7)])
def test_killed_runs_resume_without_duplicates_or_losses(tmp_path, dataset, kills, seed):
    cb = start_coverbase(faults={"latency_ms": 4})  # slow enough that kills land inside the sync
    sn = start_servicenow(dataset)
    env = _env(tmp_path, cb, sn)
    rng = random.Random(seed)
    exp = expected(sn.emu.ds)
    total_writes = len(exp.users) + len(exp.vendors) + len(exp.services) + len(exp.documents) + len(exp.boms) + \
        len(exp.assessments) + len(exp.findings)
    killed_at = []

    def writes() -> int:
        return sum(1 for e in list(cb.emu.log) if e["method"] != "GET")

    try:
        for _ in range(kills):
            # Kill somewhere in the first third of the work that is left, so every kill lands mid-sync.
            done_so_far = writes()
            target = done_so_far + rng.randint(1, max(1, (total_writes - done_so_far) // 3))
            proc = _start(env)
            deadline = time.monotonic() + 300
            while writes() < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)  # waiting for a condition (progress), bounded; not for a race
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_at.append(writes() - done_so_far)
        for _ in range(2):  # then run to completion
            done = subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                                  env=env, capture_output=True, text=True, timeout=900)
            if done.returncode == 0:
                break
        assert done.returncode == 0, done.stdout[-3000:]
        conn = sqlite3.connect(tmp_path / "state.db")
        conn.row_factory = sqlite3.Row
        ledger = [dict(r) for r in conn.execute("SELECT * FROM ledger")]
        conn.close()
        assert_no_duplicates_and_ledger_consistent(cb.state(), ledger)
        assert_end_state(_H(cb, sn))
        assert sum(1 for n in killed_at if n > 0) >= kills - 1, f"kills did not land mid-sync: {killed_at}"
    finally:
        cb.server.stop()
        sn.server.stop()


def _finish(env: dict) -> subprocess.CompletedProcess:
    for _ in range(2):
        done = subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=900)
        if done.returncode == 0:
            break
    return done


@pytest.mark.timeout(900)
def test_killed_while_pushing_findings_resumes_without_duplicate_or_lost_findings(tmp_path):
    """Findings ignore Idempotency-Key: a kill between a POST and the ledger commit must be resolved by
    reading the target back, never by a second POST."""
    cb = start_coverbase(faults={"latency_ms": 4})
    sn = start_servicenow("small")
    env = _env(tmp_path, cb, sn)
    rng = random.Random(14)
    exp = expected(sn.emu.ds)

    def posts(status: int | None = None) -> int:
        return sum(1 for e in list(cb.emu.log) if e["method"] == "POST" and e["path"] == "/v1/findings"
                   and (status is None or e["status"] == status))

    killed_at = []
    try:
        for _ in range(3):
            before = posts()
            target = before + rng.randint(1, max(1, (len(exp.findings) - before) // 3))
            proc = _start(env)
            deadline = time.monotonic() + 300
            while posts() < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)  # waiting for progress (bounded), not for a race
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_at.append(posts() - before)
        done = _finish(env)
        assert done.returncode == 0, done.stdout[-3000:]
        conn = sqlite3.connect(tmp_path / "state.db")
        conn.row_factory = sqlite3.Row
        ledger = [dict(r) for r in conn.execute("SELECT * FROM ledger")]
        conn.close()
        assert_no_duplicates_and_ledger_consistent(cb.state(), ledger)
        assert_end_state(_H(cb, sn))
        assert posts(201) == len(exp.findings), "a finding was created twice (or not at all)"
        assert sum(1 for n in killed_at if n > 0) >= 2, f"kills did not land among the findings: {killed_at}"
    finally:
        cb.server.stop()
        sn.server.stop()
