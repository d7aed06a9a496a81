"""Write-back under faults ends with exactly one work note per change.

ServiceNow PATCH is not idempotent and journal writes append, so every fault that can hide whether
a write landed is mixed in, seeded: 429s (with and without rate headers), 502/503 before anything is
stored, writes stored then answered 504 or cut off, 202, truncated/``null`` 200s and 500s; Coverbase
5xx on the assessment reads. Outcomes move on between phases; after each phase the write-back runs
until nothing is left in doubt. Then the SIGKILL variant: the pinned ``write_back`` job killed at
seeded moments in a subprocess, then run to completion (3 kills on ``small``; ``CONNECTOR_CRASH_TEST=full``:
10 kills on ``medium``).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from connector.emulators import fixtures as fx
from tests.write_back_support import WriteBackHarness, assert_one_note_per_change, config, record_changes

REPO = Path(__file__).resolve().parents[1]
FULL = os.environ.get("CONNECTOR_CRASH_TEST") == "full"  # the test_crash_resume switch: more kills, more records
DAGSTER = str(Path(sys.executable).parent / "dagster")
SN_WRITE_FAULTS = {"rate_429": 0.12, "retry_after": 0.01, "rate_5xx": 0.1, "rate_ambiguous": 0.15,
                   "ambiguous_mode": "mixed"}
SN_FAULTS = {"rate_429": 0.03, "rate_429_bare": 0.03, "retry_after": 0.01, "rate_202": 0.04, "rate_truncated": 0.04,
             "rate_500": 0.04, "rate_null": 0.02}
CB_FAULTS = {"rate_5xx": 0.25, "path_filter": "^/v1/assessments/"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [3, 17, 29])
def test_exactly_one_note_per_change_under_seeded_faults(tmp_path, seed):
    h = WriteBackHarness(tmp_path)
    try:
        h.run()  # the sync itself is not under test here
        rng = random.Random(seed)
        h.sn.emu.writes.set_settings({"seed": seed, **SN_WRITE_FAULTS})
        h.sn.emu.set_faults({"seed": seed, **SN_FAULTS})
        h.cb.emu.set_faults({"seed": seed, **CB_FAULTS})
        expected: dict = {}
        runs = 0
        for phase in range(4):
            if phase:
                h.advance(rng.uniform(0.5, 3.0) * 3600)  # some assessments move one or two statuses on
            record_changes(h, expected)
            runs += len(h.converge())
        faulted = [e for e in h.sn.emu.log if e["method"] == "PATCH" and (e["fault"] or (e["status"] or 0) >= 400)]
        assert faulted, "the faults were exercised"
        assert_one_note_per_change(h, expected)
        h.sn.emu.writes.set_settings({"rate_429": 0, "rate_5xx": 0, "rate_ambiguous": 0})
        h.sn.emu.set_faults({k: 0 for k in SN_FAULTS})
        h.cb.emu.set_faults({"rate_5xx": 0})
        mark = len(h.sn.emu.log)
        assert h.write_back().notes_written == 0 and h.sn_writes_since(mark) == []
        for sys_id, cid in h.ours().items():
            assert h.record(sys_id)["u_coverbase_status"] == h.cb.emu.store.assessments[cid]["status"]
        assert runs <= 4 * 8
    finally:
        h.close()


def _env(tmp_path: Path, h: WriteBackHarness) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / ".dagster" / "dagster.yaml").read_text())
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(config()))
    env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": h.cb.url, "COVERBASE_API_KEY": h.cb.api_key,
           "SERVICENOW_INSTANCE_URL": h.sn.url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(h.state_path),
           "CONNECTOR_CONFIG": str(mapping)}
    for name in ("SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET", "SERVICENOW_WRITE_USERNAME",
                 "SERVICENOW_WRITE_PASSWORD"):
        env.pop(name, None)
    return env


WRITE_BACK = [DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "write_back"]


def _open_rows(h: WriteBackHarness) -> int:
    return h.state.db.execute("SELECT COUNT(*) FROM ledger WHERE entity = 'assessment_outcome' "
                              "AND status IN ('pending', 'transient')").fetchone()[0]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("dataset,kills", [("medium", (5, 5))] if FULL else [("small", (2, 1))])
def test_write_back_killed_mid_run_ends_with_exactly_one_note_per_change(tmp_path, dataset, kills):
    h = WriteBackHarness(tmp_path, dataset=dataset)
    try:
        h.run()
        h.sn.emu.set_faults({"latency_ms": 25})  # slow enough that the kills land inside the run
        env = _env(tmp_path, h)
        rng = random.Random(2026)
        expected: dict = {}
        landed = []
        for phase, phase_kills in enumerate(kills):
            if phase:
                h.advance(8 * 3600)
            record_changes(h, expected)
            for _ in range(phase_kills):
                before = len(h.sn_writes_since(0))
                target = before + rng.randint(1, max(1, len(h.ours()) // 2))
                proc = subprocess.Popen(WRITE_BACK, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
                deadline = time.monotonic() + 240
                while len(h.sn_writes_since(0)) < target and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.005)  # waiting for progress (bounded), not for a race
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                landed.append(len(h.sn_writes_since(0)) - before)
            for _ in range(3):  # then run to completion
                done = subprocess.run(WRITE_BACK, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
                if not _open_rows(h):
                    break
            assert _open_rows(h) == 0
            assert_one_note_per_change(h, expected)
        assert sum(1 for n in landed if n > 0) >= sum(kills) - 1, f"kills did not land mid-run: {landed}"
    finally:
        h.close()
