"""The embedded demo: ``python -m connector.demo``.

Starts the project's two emulators on free loopback ports (ServiceNow with the ``small``
dataset), runs the pinned command ``dagster job execute -m assets.definitions -j sync_all``
twice (the second run shows a no-op re-sync), prints a short summary and stops the emulators.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

from connector.emulators import fixtures

REPO = Path(__file__).resolve().parents[1]


def _start(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start an emulator with --port 0 and read the URL it prints first."""
    err = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", *args, "--port", "0"], stdout=subprocess.PIPE, stderr=err,
                            cwd=REPO, start_new_session=True)
    line = proc.stdout.readline().decode() if proc.stdout else ""
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"emulator {args[0]} did not start; see {log}")
    return proc, line.rsplit(" ", 1)[-1].strip()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback emulator
        return json.loads(resp.read())


def _dagster(env: dict[str, str], log: Path) -> tuple[int, float]:
    t0 = time.monotonic()
    with open(log, "ab") as out:
        rc = subprocess.call([str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "assets.definitions",
                              "-j", "sync_all"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return rc, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m connector.demo", description=__doc__)
    p.add_argument("--dataset", default="small", choices=["small", "medium", "reference"])
    p.add_argument("--once", action="store_true", help="run sync_all once (skip the no-op re-run)")
    a = p.parse_args(argv)
    work = REPO / ".connector"
    work.mkdir(exist_ok=True, mode=0o700)
    state = work / "demo.db"
    for f in (state, Path(f"{state}-wal"), Path(f"{state}-shm")):
        f.unlink(missing_ok=True)  # fresh emulators, fresh ledger
    dagster_log = work / "demo-dagster.log"
    dagster_log.write_bytes(b"")
    cb, cb_url = _start(["connector.emulators.coverbase", "--host", "127.0.0.1", "--api-key", fixtures.DEMO_API_KEY],
                        work / "demo-coverbase.log")
    try:
        sn, sn_url = _start(["connector.emulators.servicenow", "--host", "127.0.0.1", "--dataset", a.dataset],
                            work / "demo-servicenow.log")
    except SystemExit:
        _stop(cb)
        raise
    try:
        print(f"Coverbase emulator  {cb_url}\nServiceNow emulator {sn_url} (dataset: {a.dataset})")
        env = {**os.environ, "COVERBASE_API_URL": cb_url, "COVERBASE_API_KEY": fixtures.DEMO_API_KEY,
               "SERVICENOW_INSTANCE_URL": sn_url, "SERVICENOW_USERNAME": fixtures.DEMO_SN_USER,
               "SERVICENOW_PASSWORD": fixtures.DEMO_SN_PASSWORD, "CONNECTOR_STATE_DB": str(state),
               "CONNECTOR_CONFIG": str(REPO / "examples" / "demo-config.yaml"),
               "DAGSTER_HOME": str(REPO / ".dagster")}
        for name in ("SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET"):
            env.pop(name, None)
        print("running: dagster job execute -m assets.definitions -j sync_all")
        rc, secs = _dagster(env, dagster_log)
        if rc != 0:
            print(f"sync_all FAILED (exit {rc}); the Dagster log is in {dagster_log}:")
            print("\n".join(dagster_log.read_text(errors="replace").splitlines()[-25:]))
            return rc
        print(f"sync_all succeeded in {secs:.1f} s\n")
        _summary(state, cb_url)
        if not a.once:
            before = _get(f"{cb_url}/_emulator/requests")["count"]
            rc, secs = _dagster(env, dagster_log)
            log = _get(f"{cb_url}/_emulator/requests?since={before}")["items"]
            writes = sum(1 for e in log if e["method"] != "GET")
            print(f"\nsecond sync_all (no changes at the source): {'succeeded' if rc == 0 else 'FAILED'} in "
                  f"{secs:.1f} s, {writes} Coverbase write calls, {len(log) - writes} reads")
            if rc != 0:
                return rc
        print(f"\nLedger: {state}   Dagster log: {dagster_log}")
        return 0
    finally:
        _stop(sn)
        _stop(cb)


def _summary(state: Path, cb_url: str) -> None:
    import sqlite3

    conn = sqlite3.connect(state)
    counts: dict[str, Counter] = {}
    for entity, status, n in conn.execute("SELECT entity, status, COUNT(*) FROM ledger GROUP BY entity, status"):
        counts.setdefault(entity, Counter())[status] = n
    conn.close()
    order = ["user", "vendor", "service", "document", "bom", "assessment", "finding"]
    print(f"{'entity':<12}{'in Coverbase':>14}  ledger outcome")
    cb = _get(f"{cb_url}/_emulator/state")
    org = next(iter(cb.values()))
    held = {"user": len(org["users"]), "vendor": len(org["vendors"]),
            "service": sum(len(v["services"]) for v in org["vendors"]),
            "document": sum(1 for d in org["documents"] if not d["is_archived"]), "bom": len(org["boms"]),
            "assessment": len(org["assessments"]), "finding": sum(1 for f in org["findings"] if not f["is_archived"])}
    for entity in order:
        c = counts.get(entity, Counter())
        detail = ", ".join(f"{s} {n}" for s, n in sorted(c.items(), key=lambda kv: -kv[1]))
        print(f"{entity:<12}{held[entity]:>14}  {detail}")
    print("(invalid / rejected / deferred / skipped are the dataset's deliberate dirty records, each with its "
          "reason in the ledger's error_message)")


if __name__ == "__main__":
    sys.exit(main())
