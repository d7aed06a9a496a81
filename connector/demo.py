"""The embedded demo: ``python -m connector.demo`` (what ``bash scripts/demo.sh`` runs).

Starts the project's two emulators on free loopback ports (ServiceNow with the ``small``
dataset), runs the pinned command ``dagster job execute -m assets.definitions -j sync_all``
twice (the second run shows a no-op re-sync), prints a summary that explains each of its figures
and stops the emulators. ``--ui`` serves the same set-up in the Dagster UI instead
(``connector/demo_ui.py``): both emulators and ``dagster dev`` with the environment set, until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from connector import cli_progress
from connector.demo_setup import (
    DAGSTER,
    REPO,
    demo_env,
    fresh_ledger,
    get_json,
    start_emulators,
    stop_process,
)

STEPS = 21  # sync_all: preflight_checks, 6 extraction and 6 push assets, 8 asset checks


_PROGRESS = re.compile(r" - ((?:reading|writing|dry run: checking) [^:\n]+: [^\n]*)$", re.M)
_STEP = re.compile(r' - STEP_START - Started execution of step "([^"]+)"')
_FINISHED = re.compile(r" - (?:STEP_SUCCESS|STEP_FAILURE) - ")


def _dagster(env: dict[str, str], log: Path, label: str) -> tuple[int, float]:
    """Run the pinned command, its output to ``log``; on a terminal a progress bar paces the wait
    (steps finished, and the latest progress line of the running step)."""
    t0 = time.monotonic()
    start = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out, cli_progress.bar(label, STEPS) as bar:
        proc = subprocess.Popen([DAGSTER, "job", "execute", "-m", "assets.definitions", "-j", "sync_all"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
        done = 0
        while proc.poll() is None:  # the run itself is bounded by CONNECTOR_MAX_RUNTIME
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            text = log.read_bytes()[start:].decode(errors="replace")
            finished = len(_FINISHED.findall(text))
            steps = list(_STEP.finditer(text))
            tail = text[steps[-1].end():] if steps else ""
            latest = _PROGRESS.findall(tail)
            what = latest[-1] if latest else (steps[-1].group(1) if steps else label)
            bar.step(what[:80], advance=finished - done)
            done = finished
    return proc.returncode, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m connector.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="small", choices=["small", "medium", "reference"])
    p.add_argument("--once", action="store_true", help="run sync_all once (skip the no-op re-run)")
    p.add_argument("--coverbase-latency-ms", type=float, default=0, help="added to every Coverbase request")
    p.add_argument("--servicenow-latency-ms", type=float, default=0, help="added to every ServiceNow request")
    p.add_argument("--ui", action="store_true", help="serve the demo in the Dagster UI (dagster dev) until Ctrl-C")
    p.add_argument("--port", type=int, default=3000, help="--ui: the UI's port (a free one if it is taken)")
    p.add_argument("--dagster-home", type=Path, default=REPO / ".dagster", help="the Dagster instance to use")
    p.add_argument("--work", type=Path, default=REPO / ".connector", help="where the ledger and logs go")
    a = p.parse_args(argv)
    a.work.mkdir(exist_ok=True, mode=0o700)
    a.dagster_home.mkdir(exist_ok=True)
    if a.ui:
        from connector import demo_ui

        return demo_ui.serve(a)
    return run_plain(a)


def run_plain(a: argparse.Namespace) -> int:
    state = a.work / "demo.db"
    fresh_ledger(state)
    dagster_log = a.work / "demo-dagster.log"
    dagster_log.write_bytes(b"")
    procs, cb_url, sn_url = start_emulators(a.dataset, a.work, cb_latency_ms=a.coverbase_latency_ms,
                                            sn_latency_ms=a.servicenow_latency_ms)
    try:
        print(f"Coverbase emulator  {cb_url}\nServiceNow emulator {sn_url} (dataset: {a.dataset})")
        env = demo_env(cb_url, sn_url, state, a.dagster_home)
        print("running: dagster job execute -m assets.definitions -j sync_all")
        rc, secs = _dagster(env, dagster_log, "sync_all")
        if rc != 0:
            print(f"sync_all FAILED (exit {rc}); the Dagster log is in {dagster_log}:")
            print("\n".join(dagster_log.read_text(errors="replace").splitlines()[-25:]))
            return rc
        print(f"sync_all succeeded in {secs:.1f} s\n")
        summary(state, cb_url)
        if not a.once:
            before = get_json(f"{cb_url}/_emulator/requests")["count"]
            rc, secs = _dagster(env, dagster_log, "sync_all again (no changes)")
            log = get_json(f"{cb_url}/_emulator/requests?since={before}")["items"]
            print()
            print(second_run(rc, secs, log))
            if rc != 0:
                return rc
        print(f"\nLedger: {state}   Dagster log: {dagster_log}")
        print(f"See these runs in the Dagster UI: DAGSTER_HOME={a.dagster_home} .venv/bin/dagster dev, then Runs "
              "(the UI can show them, not run again: the emulators have stopped; `bash scripts/demo.sh --ui` "
              "serves a UI that can).")
        return 0
    finally:
        for proc in procs:
            stop_process(proc)


# --- explaining the figures ---------------------------------------------------------------------

ORDER = ["user", "vendor", "service", "document", "bom", "assessment", "finding"]
WHY = {  # the ledger outcomes, in one line each
    "ok": "in Coverbase (created, updated, unchanged, or linked to a record Coverbase already had)",
    "invalid": "refused before sending: the record itself is malformed",
    "rejected": "Coverbase answered with a 4xx",
    "deferred": "waits for a parent that is missing or invalid; retried every run",
    "skipped": "excluded by policy (inactive person, closed or cancelled assessment)",
    "transient": "failed after retries (429/5xx/timeouts); retried next run",
}


def _held(cb_url: str) -> dict[str, int]:
    cb = get_json(f"{cb_url}/_emulator/state")
    org = next(iter(cb.values()))
    return {"user": len(org["users"]), "vendor": len(org["vendors"]),
            "service": sum(len(v["services"]) for v in org["vendors"]),
            "document": sum(1 for d in org["documents"] if not d["is_archived"]), "bom": len(org["boms"]),
            "assessment": len(org["assessments"]), "finding": sum(1 for f in org["findings"] if not f["is_archived"])}


def summary(state: Path, cb_url: str, *, per_status: int = 2) -> None:
    conn = sqlite3.connect(state)
    counts: dict[str, Counter] = {}
    ops: dict[str, Counter] = {}
    for entity, status, op, n in conn.execute(
            "SELECT entity, status, COALESCE(last_operation, ''), COUNT(*) FROM ledger GROUP BY 1, 2, 3"):
        counts.setdefault(entity, Counter())[status] += n
        if status == "ok":
            ops.setdefault(entity, Counter())[op or "unchanged"] += n
    problems = conn.execute("SELECT entity, status, label, error_message FROM ledger WHERE status NOT IN "
                            "('ok', 'archived') ORDER BY entity, status, label").fetchall()
    conn.close()
    held = _held(cb_url)
    print(f"{'entity':<12}{'in Coverbase':>14}  ledger outcome (one row per source record)")
    for entity in ORDER:
        c = counts.get(entity, Counter())
        detail = ", ".join(f"{s} {n}" for s, n in sorted(c.items(), key=lambda kv: -kv[1]))
        print(f"{entity:<12}{held[entity]:>14}  {detail}")
    print("\nWhat the figures mean:")
    print("  in Coverbase: what the Coverbase emulator holds now (documents: not archived).")
    for status in ("ok", "invalid", "rejected", "deferred", "skipped", "transient"):
        if any(status in c for c in counts.values()):
            print(f"  {status}: {WHY[status]}.")
    for entity in ORDER:
        ok, linked = counts.get(entity, Counter())["ok"], ops.get(entity, Counter())["link"]
        if ok != held[entity]:
            why = (f"{linked} of the ok records {'is' if linked == 1 else 'are'} "
                   f"linked to a Coverbase {entity} another "
                   "ServiceNow record already created (emails differing only in case or spaces are one person)"
                   if entity == "user" and linked else "see the ledger")
            print(f"  {entity}: ok {ok} but {held[entity]} in Coverbase: {why}.")
    print("\nRecords not synced, and why (the dataset's deliberate dirty records; every reason is in the ledger):")
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for entity, status, label, reason in problems:
        grouped.setdefault((entity, status), []).append((label, reason or ""))
    for (entity, status), items in sorted(grouped.items(), key=lambda kv: (ORDER.index(kv[0][0]), kv[0][1])):
        for label, reason in items[:per_status]:
            print(f"  {entity:<10} {status:<9} {label[:40]}: {reason[:110]}")
        if len(items) > per_status:
            print(f"  {entity:<10} {status:<9} … and {len(items) - per_status} more")
    print(f"  All of them: sqlite3 {state} \"SELECT entity, status, label, error_message FROM ledger WHERE status "
          "NOT IN ('ok', 'archived')\"")


READS = {  # Coverbase reads a sync_all run makes when nothing changed at the source, and who makes them
    "/v1/utils/authtest": "preflight_checks: the connectivity check",
    "/v1/vendors/{vendor_id}": "the drift_against_ledger check reads back a sample of vendors "
                               "(thresholds.drift_sample)",
    "/v1/vendors": "the no_duplicate_external_ids check lists every vendor",
}


def second_run(rc: int, secs: float, log: list[dict]) -> str:
    writes = [e for e in log if e["method"] != "GET"]
    reads = Counter(e.get("route") or e["path"] for e in log if e["method"] == "GET")
    lines = [f"second sync_all (no changes at the source): {'succeeded' if rc == 0 else 'FAILED'} in {secs:.1f} s, "
             f"{len(writes)} Coverbase write calls, {sum(reads.values())} reads:"]
    for route, n in reads.most_common():
        lines.append(f"  {n:>3} GET {route}: {READS.get(route, 'read by the sync')}")
    lines.append("  The sync itself read only the authtest; the other reads are the asset checks. The README's "
                 "Performance section measures the sync engine alone (bench/run.py: 1 read per no-op re-sync).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
