"""CPU per request of the two HTTP transports under httpx, side by side.

    .venv/bin/python bench/transport.py [--requests 2000] [--threads 32] [--latency-ms 20]

Threads (32 by default: the full sync's ceiling, ``sync.max_concurrency``) post vendors to the
Coverbase emulator (its own process) through one ``httpx.Client``: first with httpx's default
transport (httpcore + h11), then with the connector's ``StdlibTransport`` (http.client), then both
again (the second round shows the noise). Prints the connector process's CPU milliseconds per
request and the wall time per request.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import coverbase, stop  # noqa: E402
from connector.emulators import fixtures as fx  # noqa: E402
from connector.http.stdlib_transport import StdlibTransport  # noqa: E402
from connector.http.transport import tls_verify  # noqa: E402


def measure(name: str, transport: httpx.BaseTransport, url: str, n: int, threads: int) -> dict:
    headers = {"Authorization": f"Bearer {fx.DEMO_API_KEY}"}
    with httpx.Client(transport=transport, headers=headers, base_url=url) as c:
        def one(i: int) -> int:
            return c.post("/v1/vendors", json={"name": f"{name} {i}", "external_id": f"{name}-{i}"}).status_code

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(50)))  # connections opened, code warm
            c0, t0 = time.process_time(), time.monotonic()
            statuses = set(pool.map(one, range(50, 50 + n)))
            cpu, wall = time.process_time() - c0, time.monotonic() - t0
    return {"transport": name, "requests": n, "cpu_ms_per_request": round(cpu / n * 1000, 3),
            "wall_ms_per_request": round(wall / n * 1000, 3), "statuses": sorted(statuses)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--threads", type=int, default=32)  # the full sync's ceiling (sync.max_concurrency)
    p.add_argument("--latency-ms", type=float, default=20.0)
    a = p.parse_args()
    proc, url = coverbase(a.latency_ms)
    rows = []
    try:
        for round_ in (1, 2):
            for name, make in (
                ("httpcore", lambda: httpx.HTTPTransport(verify=tls_verify(None), limits=httpx.Limits(
                    max_connections=2 * a.threads, max_keepalive_connections=a.threads))),
                ("stdlib", lambda: StdlibTransport(verify=tls_verify(None), max_connections=2 * a.threads,
                                                   max_keepalive=a.threads)),
            ):
                rows.append({"round": round_, **measure(f"{name}", make(), url, a.requests, a.threads)})
                print(rows[-1], flush=True)
    finally:
        stop(proc)
    print("\n| round | transport | requests | CPU ms/request | wall ms/request | statuses |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['round']} | {r['transport']} | {r['requests']} | {r['cpu_ms_per_request']} | "
              f"{r['wall_ms_per_request']} | {r['statuses']} |")


if __name__ == "__main__":
    main()
