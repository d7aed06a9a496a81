"""Run the Coverbase webhook receiver.

    COVERBASE_WEBHOOK_SECRET=... python -m connector.webhooks --host 0.0.0.0 --port 8080

Coverbase only delivers to a public HTTPS URL on the standard port: run this behind a TLS-terminating
reverse proxy or ingress (or pass --certfile/--keyfile), and register that public URL with
``python -m connector webhooks register --url https://…``. Verified ``Assessment.StatusChanged``
events go into the state DB (``CONNECTOR_STATE_DB``), where ``coverbase_outcomes_sensor`` acts on them.
The secret is read from the environment only (never an argument: process lists show arguments).
``--port 0`` picks a free port; the first line printed is the URL.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

import uvicorn

from connector.state import DEFAULT_PATH as DEFAULT_STATE_DB
from connector.webhooks.events import EventStore
from connector.webhooks.receiver import DEFAULT_PATH, build_app
from connector.webhooks.signature import MIN_SECRET_LENGTH


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m connector.webhooks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--path", default=DEFAULT_PATH, help=f"path deliveries are POSTed to (default {DEFAULT_PATH})")
    p.add_argument("--state-db", default=os.environ.get("CONNECTOR_STATE_DB") or DEFAULT_STATE_DB,
                   help="the connector's state DB (default: CONNECTOR_STATE_DB, else .connector/state.db)")
    p.add_argument("--max-age-seconds", type=float, default=300.0,
                   help="older deliveries are refused as replays (default 300)")
    p.add_argument("--certfile", help="serve HTTPS with this certificate (else put a TLS proxy in front)")
    p.add_argument("--keyfile")
    p.add_argument("--log-level", default="info")
    return p


def secrets_from_env(env: dict[str, str]) -> list[str]:
    current = env.get("COVERBASE_WEBHOOK_SECRET", "")
    if len(current) < MIN_SECRET_LENGTH:
        raise SystemExit(f"COVERBASE_WEBHOOK_SECRET must be set to the subscription's secret (at least "
                         f"{MIN_SECRET_LENGTH} characters; e.g. "
                         "python -c 'import secrets; print(secrets.token_hex(32))')")
    previous = env.get("COVERBASE_WEBHOOK_PREVIOUS_SECRET", "")
    return [current, *([previous] if previous else [])]


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    if bool(a.certfile) != bool(a.keyfile):
        raise SystemExit("--certfile and --keyfile go together")
    secrets = secrets_from_env(dict(os.environ))
    store = EventStore(a.state_db)
    app = build_app(store, secrets, path=a.path, max_age_seconds=a.max_age_seconds)
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(512)
    scheme = "https" if a.certfile else "http"
    host = f"[{a.host}]" if ":" in a.host else a.host
    print(f"webhook receiver listening on {scheme}://{host}:{sock.getsockname()[1]}{a.path}", flush=True)
    logging.basicConfig(level=a.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(app, log_level=a.log_level, access_log=False, lifespan="off",
                            ssl_certfile=a.certfile, ssl_keyfile=a.keyfile, timeout_keep_alive=15)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()


if __name__ == "__main__":
    main()
