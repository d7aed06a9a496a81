"""What the plain demo and the UI demo share: the two emulators started as processes, the
environment the runs see, a fresh ledger (``connector/demo.py``, ``connector/demo_ui.py``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from connector.emulators import fixtures

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
MAX_RUNTIME = "900"  # the demo's runs stop, failed, after 15 minutes whatever happens


def start_process(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start an emulator with --port 0 and read the URL it prints first."""
    err = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", *args, "--port", "0"], stdout=subprocess.PIPE, stderr=err,
                            cwd=REPO, start_new_session=True)
    line = proc.stdout.readline().decode() if proc.stdout else ""
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"emulator {args[0]} did not start; see {log}")
    return proc, line.rsplit(" ", 1)[-1].strip()


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 15) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=wait)
        except ProcessLookupError:
            pass


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback emulator
        return json.loads(resp.read())


def start_emulators(dataset: str, work: Path, prefix: str = "demo", *, cb_latency_ms: float = 0,
                    sn_latency_ms: float = 0) -> tuple[list[subprocess.Popen], str, str]:
    cb, cb_url = start_process(["connector.emulators.coverbase", "--host", "127.0.0.1",
                         "--api-key", fixtures.DEMO_API_KEY,
                         "--latency-ms", str(cb_latency_ms)], work / f"{prefix}-coverbase.log")
    try:
        sn, sn_url = start_process(["connector.emulators.servicenow", "--host", "127.0.0.1", "--dataset", dataset,
                             "--latency-ms", str(sn_latency_ms)], work / f"{prefix}-servicenow.log")
    except SystemExit:
        stop_process(cb)
        raise
    return [sn, cb], cb_url, sn_url


def demo_env(cb_url: str, sn_url: str, state: Path, dagster_home: Path) -> dict[str, str]:
    env = {**os.environ, "COVERBASE_API_URL": cb_url, "COVERBASE_API_KEY": fixtures.DEMO_API_KEY,
           "SERVICENOW_INSTANCE_URL": sn_url, "SERVICENOW_USERNAME": fixtures.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fixtures.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(state),
           "CONNECTOR_CONFIG": str(REPO / "examples" / "demo-config.yaml"), "DAGSTER_HOME": str(dagster_home),
           "CONNECTOR_MAX_RUNTIME": MAX_RUNTIME,
           # `dagster job execute` is marked superseded by `dg launch` (README, Troubleshooting): not news here.
           "PYTHONWARNINGS": "ignore::FutureWarning"}
    for name in ("SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
        env.pop(name, None)
    return env


def fresh_ledger(path: Path) -> None:
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        f.unlink(missing_ok=True)  # fresh emulators, fresh ledger
