"""Peak RSS growth of one generated 100 MiB CycloneDX JSON through the whole BOM path.

    .venv/bin/python bench/bom_rss.py            # starts both emulators, prints the figures

In a fresh process: a full sync of the ``small`` dataset first (every library loaded, the schema
validators included), then a 100 MiB CycloneDX JSON is attached to a synced vendor in the
ServiceNow emulator (generated as a stream, ``connector/emulators/big_sbom.py``), and the RSS is
sampled every 2 ms while the connector extracts it (the content probe: BOM detection) and pushes
it (download into the private spool, the streamed well-formedness check and component count,
schema validation skipped above ``boms.validation_max_bytes``, presigned upload, BOM create,
one read of Coverbase's parse status). Two variants: ``bomFormat`` first (the probe stops at
the first chunk) and ``bomFormat`` last (the probe must stream all 100 MiB to find it).
Prints one JSON line per variant and a summary; target: under 64 MiB.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.rss import PeakSampler  # noqa: E402
from connector.emulators import fixtures as fx  # noqa: E402

SIZE = 100 * 1024 * 1024
TARGET_MIB = 64
KINDS = ("cyclonedx", "cyclonedx-marker-last")


def measure(cb_url: str, sn_url: str, kind: str) -> dict:
    from connector.config import parse_config
    from connector.coverbase.client import CoverbaseClient
    from connector.emulators import big_sbom
    from connector.servicenow.client import ServiceNowClient
    from connector.sources.servicenow import ServiceNowSource
    from connector.state import StateDB
    from connector.sync.engine import SyncEngine

    # One read of the parse status after the upload (Coverbase is still parsing then); the
    # verdict of a 100 MiB BOM is read by a later run, outside the measurement.
    cfg = parse_config({"boms": {"verdict_poll_rounds": 1}})
    work = Path(tempfile.mkdtemp(prefix="bench-bom-rss-"))
    state = StateDB(work / "state.db")
    engine = SyncEngine(state=state, coverbase=CoverbaseClient(cb_url, fx.DEMO_API_KEY),
                        source=ServiceNowSource(ServiceNowClient(sn_url, username=fx.DEMO_SN_USER,
                                                                 password=fx.DEMO_SN_PASSWORD), cfg), config=cfg)
    engine.run()  # warm-up: the small dataset, its SBOMs validated (the validators are loaded now)
    vendor = next(r["source_key"] for r in state.db.query(
        "SELECT source_key FROM ledger WHERE entity='vendor' AND status='ok' ORDER BY source_key"))
    att = httpx.post(f"{sn_url}/_emulator/attachments", timeout=300, json={
        "table_name": "core_company", "table_sys_id": vendor, "file_name": "container-image.cdx.json",
        "content_type": "application/vnd.cyclonedx+json", "stream_size": SIZE, "stream_kind": kind}).json()
    gc.collect()
    run_id = f"bench-{kind}"
    with PeakSampler() as sampler:
        t0 = time.monotonic()
        engine.extract(["attachments"], run_id=run_id)
        t1 = time.monotonic()
        rep = engine.push("boms", run_id=run_id)
        t2 = time.monotonic()
    row = state.ledger_row("bom", "servicenow", att["sys_id"])
    staged = next(r for r in state.staged("attachments", "servicenow") if r.key == att["sys_id"])
    return {"variant": kind, "rss_growth_mib": round(sampler.peak - sampler.base, 1),
            "rss_base_mib": round(sampler.base, 1), "extract_seconds": round(t1 - t0, 1),
            "push_seconds": round(t2 - t1, 1), "detected_at_extraction": staged.kind_reason,
            "outcome": row.status if row else None, "message": row.error_message if row else None,
            "components_counted": row.component_count if row else None,
            "components_generated": big_sbom.component_count(SIZE, 1, kind.endswith("last")),
            "warnings": json.loads(row.warnings) if row and row.warnings else [],
            "parse_status_after_upload": row.parse_status if row else None,
            "boms_created": rep.outcomes.get("created", 0)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        print(json.dumps(measure(*sys.argv[2:5])))
        return
    from bench.run import coverbase, start, stop

    results = []
    for kind in KINDS:  # fresh emulators and a fresh process per variant
        sn_proc, sn_url = start(["connector.emulators.servicenow", "--dataset", "small"])
        cb_proc, cb_url = coverbase(0.0)
        try:
            r = subprocess.run([sys.executable, "bench/bom_rss.py", "measure", cb_url, sn_url, kind], cwd=REPO,
                               capture_output=True, text=True, check=True)
            results.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
        finally:
            stop(cb_proc)
            stop(sn_proc)
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bom_rss.json").write_text(json.dumps(results, indent=2))
    print("\n=== figures ===")
    for r in results:
        print(f"peak RSS growth, generated 100 MiB CycloneDX JSON ({r['variant']}): {r['rss_growth_mib']} MiB "
              f"(target < {TARGET_MIB} MiB); extract {r['extract_seconds']} s, push {r['push_seconds']} s; "
              f"{r['outcome']}, {r['components_counted']} of {r['components_generated']} components counted")


if __name__ == "__main__":
    main()
