"""End to end through the pinned command, start-up included, against the naive baseline.

    .venv/bin/python bench/e2e.py [--dataset medium] [--latency-ms 20] [--repeat 1]

Starts both emulators in their own processes (Coverbase with ``--latency-ms`` per request), runs
``dagster job execute -m assets.definitions -j sync_all`` exactly as the README pins it (a fresh
DAGSTER_HOME and state DB), then ``bench/naive.py`` against a fresh Coverbase emulator with the
same latency, and prints: the CLI's wall time, the time before the run started (process start to
RUN_START: imports, definitions, instance), the code location's import time, the calls each made,
and the speed-up (target >= 4x). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.naive import naive_sync  # noqa: E402
from bench.run import cb_log, coverbase, start, stop  # noqa: E402
from connector.emulators import fixtures as fx  # noqa: E402

DAGSTER = str(Path(sys.executable).parent / "dagster")
STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) ([+-]\d{4})")


def import_seconds() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import assets.definitions"], cwd=REPO, check=True, capture_output=True)
    return time.monotonic() - t0


def run_cli(cb_url: str, sn_url: str, work: Path) -> dict:
    home = work / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "COVERBASE_API_URL": cb_url, "COVERBASE_API_KEY": fx.DEMO_API_KEY,
           "SERVICENOW_INSTANCE_URL": sn_url, "SERVICENOW_USERNAME": fx.DEMO_SN_USER,
           "SERVICENOW_PASSWORD": fx.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(work / "state.db")}
    for name in ("CONNECTOR_CONFIG", "SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
        env.pop(name, None)
    started = datetime.now().astimezone()
    t0 = time.monotonic()
    done = subprocess.run([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                          env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    out = done.stdout + done.stderr
    Path("/tmp/e2e-cli.log").write_text(out)
    run_start = None
    for line in out.splitlines():
        if "RUN_START" in line:
            m = STAMP.match(line)
            if m:
                run_start = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S %z")
            break
    before_run = (run_start - started).total_seconds() if run_start else None
    return {"exit": done.returncode, "seconds": round(wall, 1),
            "seconds_before_run_start": round(before_run, 1) if before_run is not None else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="medium")
    p.add_argument("--latency-ms", type=float, default=20.0)
    a = p.parse_args()
    results: dict = {"dataset": a.dataset, "latency_ms": a.latency_ms,
                     "import_assets_definitions_seconds": round(import_seconds(), 2)}
    print(f"import assets.definitions: {results['import_assets_definitions_seconds']} s", flush=True)
    sn_proc, sn_url = start(["connector.emulators.servicenow", "--dataset", a.dataset])
    procs = [sn_proc]
    try:
        cb_proc, cb_url = coverbase(a.latency_ms)
        procs.append(cb_proc)
        with tempfile.TemporaryDirectory() as tmp:
            results["cli"] = run_cli(cb_url, sn_url, Path(tmp))
        results["cli"]["coverbase_calls"] = len(cb_log(cb_url))
        print(f"pinned CLI: {json.dumps(results['cli'])}", flush=True)
        nb_proc, nb_url = coverbase(a.latency_ms)
        procs.append(nb_proc)
        st = naive_sync(sn_url, (fx.DEMO_SN_USER, fx.DEMO_SN_PASSWORD), nb_url, fx.DEMO_API_KEY)
        results["naive"] = {"seconds": round(st.seconds, 1), "coverbase_calls": st.coverbase_calls,
                            "servicenow_calls": st.servicenow_calls}
        print(f"naive: {json.dumps(results['naive'])}", flush=True)
    finally:
        for proc in procs:
            stop(proc)
    results["speedup"] = round(results["naive"]["seconds"] / results["cli"]["seconds"], 2)
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "e2e.json").write_text(json.dumps(results, indent=2))
    c = results["cli"]
    print("\n=== end to end ===")
    print(f"pinned `dagster job execute ... -j sync_all` on {a.dataset} at {a.latency_ms:g} ms: {c['seconds']} s "
          f"(exit {c['exit']}; {c['seconds_before_run_start']} s before RUN_START; "
          f"{c['coverbase_calls']} Coverbase calls)")
    print(f"naive sequential script: {results['naive']['seconds']} s ({results['naive']['coverbase_calls']} calls)")
    print(f"speed-up, start-up included: {results['speedup']}x (target >= 4x)")


if __name__ == "__main__":
    main()
