"""The pinned CLI, end to end: a run against a Coverbase that stops answering ends, failed, within
the configured maximum runtime and frees the writer; a terminated run exits promptly even with a
worker stuck in a socket read; a completed run exits 0 even when most BOMs are invalid, and its
metadata says which and why."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time

import dagster as dg
import pytest

from connector.emulators import fixtures as fx
from connector.emulators.sn_dataset import Blob
from tests.conftest import start_coverbase, start_servicenow
from tests.test_dagster_dev import DAGSTER, REPO, dagster_home

MAX_RUNTIME = 20


def _env(home, tmp_path, cb, sn, **extra) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": cb.url, "COVERBASE_API_KEY": cb.api_key,
           "SERVICENOW_INSTANCE_URL": sn.url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(tmp_path / "state.db"), **extra}
    for name in ("CONNECTOR_CONFIG", "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
        env.pop(name, None)
    return env


def _sync_all(env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def apis():
    cb, sn = start_coverbase(), start_servicenow()
    yield cb, sn
    cb.emu.set_faults({"hang_after": None})  # let hung handlers finish so the server stops at once
    cb.server.stop()
    sn.server.stop()


@pytest.mark.timeout(300)
def test_a_run_against_a_coverbase_that_stops_answering_ends_failed_within_the_maximum_runtime(tmp_path, apis):
    cb, sn = apis
    home = dagster_home(tmp_path)
    env = _env(home, tmp_path, cb, sn, CONNECTOR_MAX_RUNTIME=str(MAX_RUNTIME))
    cb.emu.set_faults({"hang_after": 25})  # answers the preflight and a few users, then nothing
    t0 = time.monotonic()
    done = _sync_all(env, timeout=240)
    elapsed = time.monotonic() - t0
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "exceeded its maximum runtime of 20 s (CONNECTOR_MAX_RUNTIME)" in out
    assert any(e["fault"] == "hang" for e in cb.emu.log)
    # The deadline counts from the run's start; the CLI needs some seconds to load before that.
    assert elapsed < MAX_RUNTIME + 45, f"took {elapsed:.0f} s"
    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs()
    assert runs and runs[0].status == dg.DagsterRunStatus.FAILURE
    assert runs[0].tags.get("dagster/max_runtime") == str(MAX_RUNTIME)
    # The writer is free: the next run (Coverbase answering again) completes and duplicates nothing.
    cb.emu.set_faults({"hang_after": None})
    again = _sync_all(env)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    external_ids = [v["external_id"] for v in cb.state()["vendors"]]
    assert len(external_ids) == len(set(external_ids))


@pytest.mark.timeout(300)
def test_a_terminated_run_exits_promptly_with_a_worker_stuck_in_a_socket_read(tmp_path, apis):
    cb, sn = apis
    env = _env(dagster_home(tmp_path), tmp_path, cb, sn)
    cb.emu.set_faults({"hang_after": 25})
    proc = subprocess.Popen([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        give_up = time.monotonic() + 180
        while not any(e["fault"] == "hang" for e in cb.emu.log):  # wait (bounded) until a request hangs
            assert proc.poll() is None and time.monotonic() < give_up, "the run never reached the hang"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what Dagster's run termination sends to a run worker
        t0 = time.monotonic()
        proc.wait(timeout=60)
        assert time.monotonic() - t0 < 30
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _truncate_boms(sn, keep: int) -> list[str]:
    """Cut all but ``keep`` SBOM attachments in half (size and hash updated, so only parsing can tell)."""
    boms = []
    for sid, row in sorted(sn.emu.tables["sys_attachment"].items()):
        blob = sn.emu.blobs.get(sid)
        if blob is None or blob.stream_size:
            continue
        content = b"".join(blob.chunks())
        try:
            doc = json.loads(content)
        except ValueError:
            continue
        if isinstance(doc, dict) and (doc.get("bomFormat") == "CycloneDX" or "spdxVersion" in doc):
            boms.append((sid, content))
    cut = []
    for sid, content in boms[keep:]:
        half = content[: len(content) // 2]
        sn.emu.blobs[sid] = Blob(content=half)
        sn.emu.update("sys_attachment", sid, {"size_bytes": str(len(half)), "hash": hashlib.sha256(half).hexdigest()})
        cut.append(sid)
    return cut


@pytest.mark.timeout(300)
def test_sync_all_exits_0_when_4_of_5_boms_are_invalid_and_its_metadata_says_which_and_why(tmp_path, apis):
    cb, sn = apis
    cut = _truncate_boms(sn, keep=1)
    assert len(cut) == 4
    home = dagster_home(tmp_path)
    done = _sync_all(_env(home, tmp_path, cb, sn))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    instance = dg.DagsterInstance.from_config(str(home))
    md = instance.get_latest_materialization_event(dg.AssetKey("coverbase_boms")).asset_materialization.metadata
    assert md["invalid"].value == 4 and md["created"].value == 1
    problems = {p["key"]: p for p in md["problems"].value if p["outcome"] == "invalid"}
    assert set(problems) == set(cut)
    assert all("JSON" in p["reason"] or "truncated" in p["reason"] for p in problems.values())
    assert all(p["key"] in md["rejected_records"].value for p in problems.values())
