"""The benchmark: prints the figures of the Performance section (and writes bench/out/results.json).

    .venv/bin/python bench/run.py [--dataset reference] [--latency-ms 20] [--skip-naive]

Emulators run in their own processes (the second core); the connector runs here. Every figure is
measured in this run; nothing is a timed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.naive import naive_sync  # noqa: E402
from connector.config import ConnectorConfig  # noqa: E402
from connector.coverbase.client import CoverbaseClient  # noqa: E402
from connector.emulators import fixtures as fx  # noqa: E402
from connector.http.transport import http_engine  # noqa: E402
from connector.servicenow.client import ServiceNowClient  # noqa: E402
from connector.servicenow.reader import ReadStats, TableReader  # noqa: E402
from connector.sources.servicenow import ServiceNowSource  # noqa: E402
from connector.state import StateDB  # noqa: E402
from connector.sync.engine import SyncEngine, new_run_id  # noqa: E402
from connector.sync.order import ENTITY_NAMES  # noqa: E402
from connector.sync.report import RunReport  # noqa: E402

PY = sys.executable


def start(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([PY, "-m", *args, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=REPO, start_new_session=True)
    line = proc.stdout.readline().decode()  # type: ignore[union-attr]
    if "listening on" not in line:
        raise SystemExit(f"could not start {args[0]}")
    return proc, line.rsplit(" ", 1)[-1].strip()


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def coverbase(latency_ms: float, rps: float | None = None) -> tuple[subprocess.Popen, str]:
    args = ["connector.emulators.coverbase", "--api-key", fx.DEMO_API_KEY, "--latency-ms", str(latency_ms)]
    if rps:
        args += ["--rps-limit", str(rps)]
    return start(args)


def cb_log(url: str, since: int = 0) -> list[dict]:
    return httpx.get(f"{url}/_emulator/requests", params={"since": since}, timeout=120).json()["items"]


def sn_client(url: str) -> ServiceNowClient:
    return ServiceNowClient(url, username=fx.DEMO_SN_USER, password=fx.DEMO_SN_PASSWORD)


def engine(cb_url: str, sn_url: str, state: Path, cfg: ConnectorConfig, **cb_kw) -> SyncEngine:
    cb_kw = {**cfg.sync.coverbase_client_kwargs(), **cb_kw}
    return SyncEngine(state=StateDB(state), coverbase=CoverbaseClient(cb_url, fx.DEMO_API_KEY, **cb_kw),
                      source=ServiceNowSource(sn_client(sn_url), cfg), config=cfg)


def read_benchmark(sn_url: str, cfg: ConnectorConfig) -> dict:
    client = sn_client(sn_url)
    reader = TableReader(client, page_size=cfg.source.page_size)
    t0, records = time.monotonic(), 0
    for spec in cfg.source.tables.values():
        for page in reader.read(spec.table, spec.fields, base_query=spec.filter, stats=ReadStats()):
            records += len(page.records)
    for parent in cfg.source.attachment_parents:
        for page in reader.read("sys_attachment", None, base_query=f"table_name={parent}", attachments=True):
            records += len(page.records)
    secs = time.monotonic() - t0
    client.close()
    return {"records": records, "requests": client.calls.total, "seconds": round(secs, 2),
            "records_per_s": round(records / secs)}


def staged_full_sync(eng: SyncEngine) -> tuple[float, RunReport, list[dict]]:
    """The full sync step by step (as sync_all runs it), timing each stage: requests, seconds,
    requests/s and the connector's CPU seconds (this process only: the emulators run elsewhere)."""
    run_id = new_run_id()
    report = RunReport(run_id, "sync")
    eng.state.start_run(run_id, "sync", eng.source.name)
    stages: list[dict] = []

    def stage(name: str, fn, counter) -> None:
        c0, p0, t0 = counter.total, time.process_time(), time.monotonic()
        fn()
        secs, cpu, calls = time.monotonic() - t0, time.process_time() - p0, counter.total - c0
        stages.append({"stage": name, "requests": calls, "seconds": round(secs, 2),
                       "requests_per_s": round(calls / secs, 1) if secs else 0.0, "cpu_seconds": round(cpu, 2),
                       "cpu_ms_per_request": round(cpu / calls * 1000, 3) if calls else None})

    t0 = time.monotonic()
    eng.check()
    stage("extract", lambda: eng.extract(run_id=run_id), eng.source.client.calls)
    snap = eng.snapshot()
    for entity in ENTITY_NAMES:
        stage(entity, lambda e=entity: eng.push(e, run_id=run_id, report=report, snapshot=snap), eng.cb.calls)
    full = time.monotonic() - t0
    eng.state.finish_run(run_id, "succeeded", report.to_dict())
    return full, report, stages


def full_and_noop(cb_url: str, sn_url: str, work: Path, cfg: ConnectorConfig, latency_ms: float) -> dict:
    eng = engine(cb_url, sn_url, work / "state.db", cfg)
    full, report, stages = staged_full_sync(eng)
    log = cb_log(cb_url)
    bom_flow = sum(1 for e in log if e["path"] in ("/v1/file/uploadable_url", "/v1/bill_of_materials"))
    created = {k: r.outcomes["created"] + r.outcomes["linked"] for k, r in report.entities.items()}
    writes = sum(1 for e in log if e["method"] != "GET")
    synced_non_bom = sum(v for k, v in created.items() if k != "boms")
    sn_full = eng.source.client.calls.total
    mark = len(log)
    noops = []
    for _ in range(3):  # the median of three: one re-sync is at the mercy of a scheduler hiccup
        t0 = time.monotonic()
        eng.run()
        noops.append(time.monotonic() - t0)
    noop = sorted(noops)[1]
    again = cb_log(cb_url, mark)
    push_stages = [st for st in stages if st["stage"] != "extract"]
    push_calls = sum(st["requests"] for st in push_stages)
    push_cpu = sum(st["cpu_seconds"] for st in push_stages)
    floor = len(log) * latency_ms / 1000 / cfg.sync.concurrency
    return {
        "stages": stages, "latency_floor_seconds": round(floor, 1), "floor_concurrency": cfg.sync.concurrency,
        "full_over_floor": round(full / floor, 2) if floor else None,
        "cpu_ms_per_coverbase_request": round(push_cpu / push_calls * 1000, 3) if push_calls else None,
        "peak_concurrency": eng.cb.gate.limit.peak, "limit_decreases": eng.cb.gate.limit.decreases,
        "full_seconds": round(full, 1), "full_calls": len(log), "full_writes": writes, "created": created,
        "calls_per_created_record": round((len(log) - bom_flow) / synced_non_bom, 3),
        "bom_flow_calls": bom_flow,
        "noop_seconds": round(noop, 2), "noop_runs_seconds": [round(n, 2) for n in noops],
        "noop_writes": sum(1 for e in again if e["method"] != "GET"),  # over all the re-syncs: must be 0
        "noop_reads": sum(1 for e in again if e["method"] == "GET") // len(noops),  # per re-sync
        "noop_share_of_full": round(noop / full, 4),
        "servicenow_requests_full": sn_full,
        "servicenow_requests_noop": (eng.source.client.calls.total - sn_full) // len(noops),
    }


def rate_limited(sn_url: str, work: Path, cfg: ConnectorConfig, limit: float | None, latency_ms: float,
                 client_limit: float | None, name: str) -> dict:
    """Users, vendors and services pushed against a Coverbase that allows ``limit`` requests/s
    (None: no limit), with the client-side cap ``client_limit`` or adaptive concurrency alone."""
    proc, url = coverbase(latency_ms, rps=limit)
    try:
        kw = {"rate_limit_per_second": client_limit} if client_limit else {}
        eng = engine(url, sn_url, work / f"rate-{name}.db", cfg, **kw)
        eng.check()
        eng.extract(run_id="rate")
        snap = eng.snapshot()
        t0 = time.monotonic()
        for entity in ("users", "vendors", "services"):
            eng.push(entity, run_id="rate", snapshot=snap)
        secs = time.monotonic() - t0
        log = [e for e in cb_log(url) if e["ts"] >= time.time() - secs - 1]
        n429 = sum(1 for e in log if e["status"] == 429)
        return {"scenario": name, "limit_rps": limit, "client_limit_rps": client_limit, "requests": len(log),
                "seconds": round(secs, 1), "achieved_rps": round(len(log) / secs, 1),
                "accepted_rps": round((len(log) - n429) / secs, 1),
                "share_of_limit": round((len(log) - n429) / secs / limit, 3) if limit else None, "responses_429": n429,
                "learned_pace_decreases": eng.cb.gate.pace.decreases if eng.cb.gate.pace else 0,
                "peak_concurrency": eng.cb.gate.limit.peak, "limit_decreases": eng.cb.gate.limit.decreases}
    finally:
        stop(proc)


RATE_SCENARIOS = (  # (name, emulator limit, client-side cap)
    ("emulator limit, client cap at the limit", True, True),
    ("emulator limit, adaptive concurrency alone", True, False),
    ("no limit anywhere", False, False),
)


def rate_scenarios(a: argparse.Namespace, work: Path, cfg: ConnectorConfig) -> list[dict]:
    rsn_proc, rsn_url = start(["connector.emulators.servicenow", "--dataset", a.rate_dataset])
    try:
        out = []
        for name, emulator_limit, client_cap in RATE_SCENARIOS:
            print(f"rate: {name} ({a.rate_limit:g} req/s, {a.rate_dataset} dataset) ...", flush=True)
            out.append(rate_limited(rsn_url, work, cfg, a.rate_limit if emulator_limit else None, a.latency_ms,
                                    a.rate_limit if client_cap else None, name))
            print(json.dumps(out[-1]), flush=True)
        return out
    finally:
        stop(rsn_proc)


def print_rate(rows: list[dict]) -> None:
    print("| rate scenario | requests | seconds | requests/s | accepted/s | accepted share of limit | 429s "
          "| peak in flight | concurrency decreases | pace decreases |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        share = f"{r['share_of_limit']:.0%}" if r["share_of_limit"] is not None else "-"
        print(f"| {r['scenario']} | {r['requests']} | {r['seconds']} | {r['achieved_rps']} | {r['accepted_rps']} | "
              f"{share} | {r['responses_429']} | {r['peak_concurrency']} | {r['limit_decreases']} | "
              f"{r['learned_pace_decreases']} |")


def rate_only(a: argparse.Namespace) -> None:
    rows = rate_scenarios(a, Path(tempfile.mkdtemp(prefix="bench-rate-")), ConnectorConfig())
    print("\n=== figures ===")
    print_rate(rows)


def rss(cb_url: str, sn_url: str) -> dict:
    vendor = httpx.get(f"{cb_url}/_emulator/state", timeout=120).json()
    vid = next(iter(vendor.values()))["vendors"][0]["id"]
    out = {}
    r = subprocess.run([PY, "bench/rss.py", "client", cb_url, fx.DEMO_API_KEY, vid], cwd=REPO, capture_output=True,
                       text=True, check=True)
    out["client_upload"] = json.loads(r.stdout.strip().splitlines()[-1])
    att = httpx.post(f"{sn_url}/_emulator/attachments", json={"table_name": "core_company", "table_sys_id": "x" * 32,
                                                              "file_name": "100mib-evidence.zip",
                                                              "stream_size": 100 * 1024 * 1024,
                                                              "content_type": "application/zip"}, timeout=120).json()
    r = subprocess.run([PY, "bench/rss.py", "sync", cb_url, fx.DEMO_API_KEY, vid, sn_url, att["sys_id"]], cwd=REPO,
                       capture_output=True, text=True, check=True)
    out["sync_path"] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="reference")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--rate-limit", type=float, default=50.0)
    p.add_argument("--rate-dataset", default="medium")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--skip-bom-rss", action="store_true")
    p.add_argument("--only-rate", action="store_true", help="run only the rate-limit scenarios")
    a = p.parse_args()
    if a.only_rate:
        return rate_only(a)
    cfg = ConnectorConfig()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict = {"dataset": a.dataset, "latency_ms": a.latency_ms, "cores": os.cpu_count(),
                     "http_engine": http_engine()}
    sn_proc, sn_url = start(["connector.emulators.servicenow", "--dataset", a.dataset])
    procs = [sn_proc]
    try:
        print(f"ServiceNow read of the whole {a.dataset} dataset ...", flush=True)
        results["servicenow_read"] = read_benchmark(sn_url, cfg)
        print(json.dumps(results["servicenow_read"]), flush=True)

        print(f"full sync + no-op re-sync at {a.latency_ms:g} ms Coverbase latency ...", flush=True)
        cb_proc, cb_url = coverbase(a.latency_ms)
        procs.append(cb_proc)
        results["sync"] = full_and_noop(cb_url, sn_url, work, cfg, a.latency_ms)
        print(json.dumps(results["sync"]), flush=True)

        print("peak RSS growth for a 100 MiB document ...", flush=True)
        results["rss"] = rss(cb_url, sn_url)
        print(json.dumps(results["rss"]), flush=True)

        if not a.skip_bom_rss:
            print("peak RSS growth for a generated 100 MiB CycloneDX JSON (bench/bom_rss.py) ...", flush=True)
            r = subprocess.run([PY, "bench/bom_rss.py"], cwd=REPO, capture_output=True, text=True, check=True)
            results["bom_rss"] = json.loads((REPO / "bench" / "out" / "bom_rss.json").read_text())
            print(r.stdout.strip().split("=== figures ===")[0].strip(), flush=True)

        if not a.skip_naive:
            print("naive sequential baseline ...", flush=True)
            nb_proc, nb_url = coverbase(a.latency_ms)
            procs.append(nb_proc)
            st = naive_sync(sn_url, (fx.DEMO_SN_USER, fx.DEMO_SN_PASSWORD), nb_url, fx.DEMO_API_KEY)
            results["naive"] = {"seconds": round(st.seconds, 1), "coverbase_calls": st.coverbase_calls,
                                "servicenow_calls": st.servicenow_calls, "created": st.created}
            results["speedup_vs_naive"] = round(st.seconds / results["sync"]["full_seconds"], 2)
            print(json.dumps(results["naive"]), f"speed-up {results['speedup_vs_naive']}x", flush=True)

        results["rate_limit"] = rate_scenarios(a, work, cfg)
    finally:
        for proc in procs:
            stop(proc)
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    s = results["sync"]
    print(f"\n=== figures === (HTTP engine: {results['http_engine']})")
    print(f"ServiceNow read ({a.dataset}): {results['servicenow_read']['records']} records, "
          f"{results['servicenow_read']['requests']} requests, {results['servicenow_read']['records_per_s']} records/s")
    print(f"full sync: {s['full_seconds']} s, {s['full_calls']} Coverbase calls ({s['full_writes']} writes); latency "
          f"floor (calls x {a.latency_ms:g} ms / {s['floor_concurrency']}) {s['latency_floor_seconds']} s: "
          f"{s['full_over_floor']}x the floor (target <= 1.3x); concurrency peaked at {s['peak_concurrency']}")
    print(f"connector CPU per Coverbase request (push stages): {s['cpu_ms_per_coverbase_request']} ms (target <= 0.7)")
    print("| stage | requests | seconds | requests/s | CPU s | CPU ms/request |")
    print("|---|---|---|---|---|---|")
    for st in s["stages"]:
        print(f"| {st['stage']} | {st['requests']} | {st['seconds']} | {st['requests_per_s']} | {st['cpu_seconds']} | "
              f"{st['cpu_ms_per_request']} |")
    if "naive" in results:
        print(f"naive baseline: {results['naive']['seconds']} s, "
              f"{results['naive']['coverbase_calls']} Coverbase calls; "
              f"full sync is {results['speedup_vs_naive']}x faster (target >= 6x)")
    print(f"no-op re-sync: {s['noop_seconds']} s, median of {s['noop_runs_seconds']} "
          f"({s['noop_share_of_full']:.1%} of the full sync; target < 5%), "
          f"{s['noop_writes']} writes in all (target 0), "
          f"{s['noop_reads']} Coverbase reads and {s['servicenow_requests_noop']} ServiceNow requests per re-sync")
    print(f"Coverbase calls per created record (BOM flow excluded): {s['calls_per_created_record']} (target <= 1.1)")
    print_rate(results["rate_limit"])
    print(f"peak RSS growth, 100 MiB document: client upload {results['rss']['client_upload']['rss_growth_mib']} MiB, "
          f"sync path (download, spool, upload) {results['rss']['sync_path']['rss_growth_mib']} MiB (target < 32 MiB)")
    for r in results.get("bom_rss", []):
        print(f"peak RSS growth, generated 100 MiB CycloneDX JSON ({r['variant']}): detection, streamed read, "
              f"skipped validation, upload {r['rss_growth_mib']} MiB (target < 64 MiB)")


if __name__ == "__main__":
    main()
