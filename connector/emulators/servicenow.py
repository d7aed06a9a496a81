"""ServiceNow instance emulator serving a TPRM dataset.

    python -m connector.emulators.servicenow --host 127.0.0.1 --port P --dataset small|medium|reference \\
        [--username U --password W] [--client-id ID --client-secret S] [fault options] [--tls]

Table API, Attachment API, OAuth (/oauth_token.do), sys_db_object / sys_dictionary, seeded faults
(settable at run time with PUT /_emulator/faults) and /_emulator/records/... to insert, update
and delete records between runs. ``--port 0`` picks a free port; the first line printed names it.
"""

from __future__ import annotations

import argparse
import json
import tempfile

from connector.emulators import fixtures, sn_dataset
from connector.emulators.server import serve_forever
from connector.emulators.servicenow_app import ServiceNowEmulator, ServiceNowFaults


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m connector.emulators.servicenow", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8901)
    p.add_argument("--dataset", choices=sorted(sn_dataset.SIZES), default="small")
    p.add_argument("--seed", type=int, default=7, help="dataset seed")
    p.add_argument("--username", default=fixtures.DEMO_SN_USER)
    p.add_argument("--password", default=fixtures.DEMO_SN_PASSWORD)
    p.add_argument("--client-id", default=fixtures.DEMO_SN_CLIENT_ID)
    p.add_argument("--client-secret", default=fixtures.DEMO_SN_CLIENT_SECRET)
    p.add_argument("--token-ttl", type=int, default=1800, help="OAuth access-token lifetime in seconds")
    p.add_argument("--tls", action="store_true",
                   help="serve https with a throwaway CA (needs trustme); prints the CA path")
    f = p.add_argument_group("faults (deterministic by --fault-seed)")
    f.add_argument("--fault-seed", type=int, default=0)
    f.add_argument("--latency-ms", type=float, default=0.0)
    for name in ("429", "429-bare", "truncated", "500", "5xx", "202", "null", "html"):
        f.add_argument(f"--rate-{name}", type=float, default=0.0)
    f.add_argument("--retry-after", type=float, default=1.0)
    f.add_argument("--quota-budget", type=int, default=None, help="sysparm_limit x fields above this is cancelled")
    f.add_argument("--acl-hide-rate", type=float, default=0.0)
    f.add_argument("--faults", help="JSON object of fault settings (overrides the flags above)")
    f.add_argument("--writes", help="JSON write settings: roles, protected_fields, faults (PUT /_emulator/writes)")
    p.add_argument("--log-level", default="warning")
    return p


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    settings = {"seed": a.fault_seed, "latency_ms": a.latency_ms, "retry_after": a.retry_after,
                "quota_budget": a.quota_budget, "acl_hide_rate": a.acl_hide_rate,
                **{f"rate_{n.replace('-', '_')}": getattr(a, f"rate_{n.replace('-', '_')}")
                   for n in ("429", "429-bare", "truncated", "500", "5xx", "202", "null", "html")}}
    if a.faults:
        settings.update(json.loads(a.faults))
    emu = ServiceNowEmulator(sn_dataset.build(a.dataset, a.seed), username=a.username, password=a.password,
                             client_id=a.client_id, client_secret=a.client_secret, token_ttl=a.token_ttl,
                             faults=ServiceNowFaults.model_validate(settings))
    if a.writes:
        emu.writes.set_settings(json.loads(a.writes))
    certfile = keyfile = None
    if a.tls:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert(a.host, "localhost")
        tmp = tempfile.mkdtemp(prefix="sn-emulator-tls-")
        certfile, keyfile, ca_path = f"{tmp}/cert.pem", f"{tmp}/key.pem", f"{tmp}/ca.pem"
        cert.cert_chain_pems[0].write_to_path(certfile)
        cert.private_key_pem.write_to_path(keyfile)
        ca.cert_pem.write_to_path(ca_path)
        print(f"CA certificate: {ca_path}", flush=True)
    serve_forever(emu.app, a.host, a.port, name="ServiceNow", log_level=a.log_level, certfile=certfile, keyfile=keyfile)


if __name__ == "__main__":
    main()
