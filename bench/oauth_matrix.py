"""The OAuth matrix: token lifetime x concurrency, faults on; every run must complete, and the
tokens fetched stay within one per (lifetime - refresh margin) plus retries.

    .venv/bin/python bench/oauth_matrix.py [--dataset medium] [--lifetimes 5 20 1800] [--concurrency 1 2 4 8]

Both emulators run in their own processes with 20 ms of latency and seeded faults (ServiceNow:
429, 5xx, truncated bodies; its token endpoint: 10 % 429 and 10 % 503; Coverbase: 429, 5xx). The
connector runs here, OAuth client credentials. Prints one row per run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import start, stop  # noqa: E402
from connector.config import parse_config  # noqa: E402
from connector.coverbase.client import CoverbaseClient  # noqa: E402
from connector.deadline import Deadline  # noqa: E402
from connector.emulators import fixtures as fx  # noqa: E402
from connector.servicenow.auth import refresh_margin  # noqa: E402
from connector.servicenow.client import ServiceNowClient  # noqa: E402
from connector.sources.servicenow import ServiceNowSource  # noqa: E402
from connector.state import StateDB  # noqa: E402
from connector.sync.engine import SyncEngine  # noqa: E402

SN_FAULTS = {"rate_429": 0.02, "rate_5xx": 0.02, "rate_truncated": 0.01, "retry_after": 0.05,
             "token_rate_429": 0.1, "token_rate_5xx": 0.1}
CB_FAULTS = {"rate_429": 0.02, "rate_5xx": 0.02, "retry_after": 0.05}


def one(dataset: str, lifetime: int, concurrency: int, seed: int) -> dict:
    sn_proc, sn_url = start(["connector.emulators.servicenow", "--dataset", dataset, "--token-ttl", str(lifetime),
                             "--latency-ms", "20", "--faults", json.dumps({"seed": seed, **SN_FAULTS})])
    cb_proc, cb_url = start(["connector.emulators.coverbase", "--api-key", fx.DEMO_API_KEY, "--latency-ms", "20",
                             "--faults", json.dumps({"seed": seed, **CB_FAULTS})])
    try:
        cfg = parse_config({"sync": {"concurrency": concurrency, "servicenow_concurrency": concurrency}})
        sn = ServiceNowClient(sn_url, client_id=fx.DEMO_SN_CLIENT_ID, client_secret=fx.DEMO_SN_CLIENT_SECRET,
                              max_concurrency=concurrency)
        with tempfile.TemporaryDirectory() as tmp:
            eng = SyncEngine(state=StateDB(Path(tmp) / "state.db"),
                             coverbase=CoverbaseClient(cb_url, fx.DEMO_API_KEY, max_concurrency=concurrency),
                             source=ServiceNowSource(sn, cfg), config=cfg, deadline=Deadline(900))
            t0 = time.monotonic()
            try:
                eng.run()
                outcome = "completed"
            except Exception as exc:  # noqa: BLE001 - reported in the table
                outcome = f"FAILED: {type(exc).__name__}: {str(exc)[:80]}"
            secs = time.monotonic() - t0
            sn_requests = sn.calls.total
            eng.cb.close()
            sn.close()
        grants = httpx.get(f"{sn_url}/_emulator/tokens/grants", timeout=30).json()["items"]
    finally:
        stop(sn_proc)
        stop(cb_proc)
    ok = sum(1 for g in grants if g["status"] == 200)
    retried = len(grants) - ok
    usable = lifetime - refresh_margin(lifetime)
    bound = math.ceil(secs / usable) + 1  # one token per usable lifetime, plus the first
    return {"lifetime_s": lifetime, "concurrency": concurrency, "outcome": outcome, "seconds": round(secs, 1),
            "servicenow_requests": sn_requests, "tokens": ok, "token_requests_failed": retried,
            "tokens_per_min": round(ok / secs * 60, 1), "bound": bound, "within_bound": ok <= bound}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="medium")
    p.add_argument("--lifetimes", type=int, nargs="+", default=[5, 20, 1800])
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seed", type=int, default=3)
    a = p.parse_args()
    rows = []
    print("| lifetime (s) | concurrency | outcome | run (s) | SN requests | tokens | failed token requests "
          "| tokens/min | bound | within |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for lifetime in a.lifetimes:
        for c in a.concurrency:
            r = one(a.dataset, lifetime, c, a.seed)
            rows.append(r)
            print(f"| {r['lifetime_s']} | {r['concurrency']} | {r['outcome']} | {r['seconds']} | "
                  f"{r['servicenow_requests']} | {r['tokens']} | {r['token_requests_failed']} | {r['tokens_per_min']} "
                  f"| {r['bound']} | {'yes' if r['within_bound'] else 'NO'} |", flush=True)
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "oauth_matrix.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
