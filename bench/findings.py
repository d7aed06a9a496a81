"""What exactly-once findings cost: prints the figures of the README's findings section.

    .venv/bin/python bench/findings.py [--dataset reference] [--latency-ms 20]

Two full syncs against fresh emulators in their own processes: one where Coverbase answers every
create, one where the answer of every first findings POST is lost (committed, then 504 or a dropped
connection), so every finding is found again by the read-back. For each: findings created, Coverbase
calls of the findings step (and per finding), its wall time, and the findings calls of a no-op re-run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import cb_log, engine, start, stop  # noqa: E402
from connector.config import ConnectorConfig  # noqa: E402
from connector.emulators import fixtures as fx  # noqa: E402


def one(dataset: str, latency_ms: float, lost_answers: bool) -> dict:
    args = ["connector.emulators.coverbase", "--api-key", fx.DEMO_API_KEY, "--latency-ms", str(latency_ms)]
    if lost_answers:
        args += ["--ambiguous-first-paths", "^/v1/findings$", "--ambiguous-mode", "mixed"]
    cb, cb_url = start(args)
    sn, sn_url = start(["connector.emulators.servicenow", "--dataset", dataset])
    try:
        cfg = ConnectorConfig()
        with tempfile.TemporaryDirectory() as tmp:
            eng = engine(cb_url, sn_url, Path(tmp) / "state.db", cfg)
            # One run, as sync_all does: vendors created in it need no listing before their findings.
            rep = eng.run().report.entities["findings"]
            posts = sum(1 for e in cb_log(cb_url) if e["method"] == "POST" and e["path"] == "/v1/findings")
            again_before = len(cb_log(cb_url))
            eng.run()
            again = [e for e in cb_log(cb_url, again_before) if e["path"].startswith("/v1/findings")]
            created = rep.outcomes["created"]
            return {"created": created, "calls": rep.api_calls, "posts": posts, "lists": rep.api_calls - posts,
                    "calls_per_finding": round(rep.api_calls / max(1, created), 2), "seconds": rep.duration_s,
                    "noop_writes": sum(1 for e in again if e["method"] != "GET"),
                    "noop_reads": sum(1 for e in again if e["method"] == "GET"),
                    "transient": rep.outcomes["transient"]}
    finally:
        stop(sn)
        stop(cb)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="reference")
    p.add_argument("--latency-ms", type=float, default=20)
    a = p.parse_args()
    for lost in (False, True):
        r = one(a.dataset, a.latency_ms, lost)
        label = "every first answer lost" if lost else "answers arrive"
        print(f"{label:<24} {r['created']} findings created in {r['seconds']} s: {r['calls']} Coverbase calls "
              f"({r['posts']} POST, {r['lists']} GET) = {r['calls_per_finding']} per finding; "
              f"{r['transient']} awaiting; no-op re-run: {r['noop_writes']} findings writes, {r['noop_reads']} reads")


if __name__ == "__main__":
    main()
