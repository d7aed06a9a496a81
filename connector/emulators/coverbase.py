"""Coverbase API emulator.

    python -m connector.emulators.coverbase --host 127.0.0.1 --port P --api-key K [fault options]

Serves the /v1 surface the connector uses, faithful to shared/docs/coverbase-api.md §3.1, plus
``/_emulator/*`` routes (state, request log, faults at run time) for tests and benchmarks.
``--port 0`` picks a free port; the first line printed names the URL.
"""

from __future__ import annotations

import argparse
import json

from connector.emulators.coverbase_app import CoverbaseEmulator, CoverbaseFaults
from connector.emulators.server import serve_forever


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m connector.emulators.coverbase", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--api-key", action="append", required=True, help="API key of the emulated org (repeatable)")
    p.add_argument("--foreign-api-key", help="API key of a second org (cross-org ids answer 404)")
    p.add_argument("--no-bom-entitlement", action="store_true", help="every /v1/bill_of_materials route answers 404")
    p.add_argument("--findings-text", action="store_true",
                   help="include title and body in finding responses (the documented object has neither)")
    p.add_argument("--idempotency-scope", choices=["path", "route"], default="path",
                   help="what 'endpoint' means in the (org, endpoint, key) idempotency scope")
    f = p.add_argument_group("faults (deterministic by --seed; also settable at run time: PUT /_emulator/faults)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--latency-ms", type=float, default=0.0)
    f.add_argument("--latency-jitter-ms", type=float, default=0.0)
    f.add_argument("--latency-spike-rate", type=float, default=0.0)
    f.add_argument("--latency-spike-ms", type=float, default=0.0)
    f.add_argument("--rate-429", type=float, default=0.0, help="share of requests answered 429 + Retry-After")
    f.add_argument("--retry-after", type=float, default=1.0, help="seconds advertised by injected 429s")
    f.add_argument("--rate-5xx", type=float, default=0.0, help="share answered 500/502/503/504 before processing")
    f.add_argument("--rps-limit", type=float, default=None, help="requests-per-second limit (token bucket)")
    f.add_argument("--rate-ambiguous", type=float, default=0.0,
                   help="share of writes committed, then answered 504 or dropped")
    f.add_argument("--ambiguous-mode", choices=["status", "disconnect", "mixed"], default="mixed")
    f.add_argument("--hang-after", type=int, default=None,
                   help="after this many /v1 requests, stop answering (connections stay open, no response)")
    f.add_argument("--max-string-length", type=int, default=None,
                   help="longer JSON strings get 422 string_too_long")
    f.add_argument("--ambiguous-first-paths", default=None,
                   help="regex: the first write of each distinct request to these paths is committed, then lost")
    f.add_argument("--faults", help="JSON object of fault settings (overrides the flags above)")
    p.add_argument("--webhooks", help='JSON webhook settings, e.g. {"allow_loopback": true} (PUT /_emulator/webhooks)')
    p.add_argument("--progress", help='JSON assessment progress settings, e.g. {"step_seconds": 60}')
    p.add_argument("--log-level", default="warning")
    p.add_argument("--certfile")
    p.add_argument("--keyfile")
    return p


def faults_from_args(a: argparse.Namespace) -> CoverbaseFaults:
    settings = dict(seed=a.seed, latency_ms=a.latency_ms, latency_jitter_ms=a.latency_jitter_ms,
                    latency_spike_rate=a.latency_spike_rate, latency_spike_ms=a.latency_spike_ms,
                    rate_429=a.rate_429, retry_after=a.retry_after, rate_5xx=a.rate_5xx, rps_limit=a.rps_limit,
                    rate_ambiguous=a.rate_ambiguous, ambiguous_mode=a.ambiguous_mode, hang_after=a.hang_after,
                    max_string_length=a.max_string_length, ambiguous_first_paths=a.ambiguous_first_paths)
    if a.faults:
        settings.update(json.loads(a.faults))
    return CoverbaseFaults.model_validate(settings)


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    emu = CoverbaseEmulator(a.api_key, foreign_api_key=a.foreign_api_key, faults=faults_from_args(a),
                            bom_entitled=not a.no_bom_entitlement, idempotency_scope=a.idempotency_scope,
                            findings_text=a.findings_text)
    if a.webhooks:
        emu.webhooks.set_settings(json.loads(a.webhooks))
    if a.progress:
        emu.progress.set_settings(json.loads(a.progress))
    serve_forever(emu.app, a.host, a.port, name="Coverbase", log_level=a.log_level,
                  certfile=a.certfile, keyfile=a.keyfile)


if __name__ == "__main__":
    main()
